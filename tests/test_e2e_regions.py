"""One release across regions and accounts (SPEC §13), through the real CLI against one
ThreadedMotoServer on 127.0.0.1: two accounts (the runner's, and 222233334444 reached
through a role: the local AWS maps assumed-role credentials to the role's account) and
three regions, one region at a time in waves, all or nothing."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deployer.demo.world import LambdaWorld, create_lambda_world
from tests.e2e import Cli, finish, wait_until

OTHER = "arn:aws:iam::222233334444:role/deployer-target"
NAMES = (f"rg{i}" for i in itertools.count())


def fleet(endpoint: str) -> tuple[str, dict[str, LambdaWorld]]:
    """The same function name and alarm name in four places: us-east-1 and eu-west-1 of
    the runner's account, us-east-1 and ap-southeast-2 of the other."""
    name = next(NAMES)
    places = {"use1": ("us-east-1", None), "euw1": ("eu-west-1", None),
              "use1b": ("us-east-1", OTHER), "aps2": ("ap-southeast-2", OTHER)}
    return name, {key: create_lambda_world(endpoint, region, function=name,
                                           alarms=(f"{name}-errors",), role_arn=role)
                  for key, (region, role) in places.items()}


def plan(tmp_path: Path, name: str, worlds: dict[str, LambdaWorld], bake: str) -> str:
    lines = ["version: 1", f"name: {name}", "region: us-east-1", "targets:"]
    for key, world in worlds.items():
        role = f", role_arn: \"{world.role_arn}\"" if world.role_arn else ""
        lines.append(f"  {key}: {{lambda: {{function: {name}, alias: live, version: "
                     f"\"{world.new}\"}}, region: {world.region}{role}, "
                     f"alarms: [{name}-errors]}}")
    lines += ["waves: [[use1, use1b], [euw1], [aps2]]",
              f"strategy: {{canary: {{weight: 10, bake: {bake}}}}}",
              "checks: {poll_every: 5s}"]
    path = tmp_path / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_three_regions_in_two_accounts_region_by_region(endpoint: str, tmp_path: Path,
                                                       cli: Cli) -> None:
    name, worlds = fleet(endpoint)
    code, _, err = finish(cli.rollout(plan(tmp_path, name, worlds, "1m"), scale="60"))
    assert code == 0, err
    assert all(w.alias_state() == (w.new, {}) for w in worlds.values())
    report = cli.report_document()
    targets = report["targets"]
    assert targets["aps2"]["region"] == "ap-southeast-2"
    assert targets["aps2"]["account"] == "222233334444"
    assert "account" not in targets["euw1"]  # the runner's own account is not repeated
    # The same function and region in two accounts are two targets, two locks.
    run = json.loads(cli.run("status", report["run_id"], "--json").stdout)
    assert f"lambda:222233334444:us-east-1:{name}:live" in run["locks"]
    assert f"lambda:us-east-1:{name}:live" in run["locks"]
    assert f"lambda:eu-west-1:{name}:live" in run["locks"]
    messages = [e["message"] for e in report["events"]]
    waves = [m for m in messages if m.startswith("wave ")]
    assert waves[:2] == ["wave 2 of 3: euw1", "wave 3 of 3: aps2"]  # after wave 1
    status = cli.run("status", report["run_id"]).stdout
    assert any(line.split()[:3] == ["aps2", "lambda", "222233334444:ap-southeast-2"]
               for line in status.splitlines())
    page = tmp_path / "report.html"
    assert cli.run("report", report["run_id"], "--html", str(page)).returncode == 0
    assert "<td>222233334444:ap-southeast-2</td>" in page.read_text()
    assert "<td>eu-west-1</td>" in page.read_text()


def test_an_alarm_in_the_last_region_rolls_every_region_back(endpoint: str, tmp_path: Path,
                                                            cli: Cli) -> None:
    name, worlds = fleet(endpoint)
    process = cli.rollout(plan(tmp_path, name, worlds, "30m"), scale="60")
    promoted: set[int] = set()

    def in_wave_three() -> bool:
        """Cut waves 1 and 2's long bakes short; true once wave 3 (the other account's
        ap-southeast-2) bakes with 10% on its new version."""
        runs = json.loads(cli.run("list", "--json").stdout or "[]")
        run = runs[0] if runs else None
        wave = int(run["target"].get("wave", 0)) if run else -1
        if run and run["phase"] == "BAKING" and wave < 2 and wave not in promoted:
            assert cli.run("promote", run["run_id"]).returncode == 0
            promoted.add(wave)
        return worlds["aps2"].alias_state()[1] != {}

    wait_until(in_wave_three, 60)
    assert worlds["use1"].alias_state() == (worlds["use1"].new, {})  # earlier waves: done
    # Its own alarm fires; the other places' alarms of the same name stay OK.
    worlds["aps2"].set_alarm(f"{name}-errors", "ALARM")
    code, _, err = finish(process)
    assert code == 3, err
    assert all(w.alias_state() == (w.stable, {}) for w in worlds.values())
    reason = cli.report_document()["reason"]
    assert f"alarm {name}-errors @ 222233334444:ap-southeast-2 is in ALARM" in reason


@pytest.fixture
def denied_role() -> Iterator[str]:
    """A role whose trust policy does not name the runner: the local AWS assumes any
    role, so its STS is patched in this process (which hosts the server) to answer
    AccessDenied for this one, as AWS does."""
    from moto.sts.exceptions import STSClientError
    from moto.sts.models import STSBackend

    role = "arn:aws:iam::222233334444:role/not-trusting-the-runner"
    original = STSBackend.assume_role

    def assume_role(self: STSBackend, **kwargs: Any) -> Any:
        if kwargs.get("role_arn") == role:
            raise STSClientError("AccessDenied", "User: arn:aws:iam::123456789012:user/ci is "
                                 f"not authorized to perform: sts:AssumeRole on resource: {role}")
        return original(self, **kwargs)

    STSBackend.assume_role = assume_role  # type: ignore[method-assign]
    yield role
    STSBackend.assume_role = original  # type: ignore[method-assign]


@pytest.mark.filterwarnings("ignore:Exception\\(STSClientError\\)")  # moto's own, harmless
def test_a_role_that_cannot_be_assumed_refuses_the_run_naming_it(
        endpoint: str, tmp_path: Path, cli: Cli, denied_role: str) -> None:
    name, worlds = fleet(endpoint)
    path = plan(tmp_path, name, worlds, "1m")
    Path(path).write_text(Path(path).read_text().replace(OTHER, denied_role))
    code, _, err = finish(cli.rollout(path, scale="60"))
    assert code == 5, err
    report = cli.report_document()
    assert report["outcome"] == "refused"
    assert f"target aps2: cannot assume {denied_role}: AccessDenied" in report["reason"]
    assert "trust policy" in (report["hint"] or "")
    assert all(w.alias_state() == (w.stable, {}) for w in worlds.values())  # nothing moved


def test_the_same_function_in_two_accounts_is_two_targets(endpoint: str, tmp_path: Path,
                                                          cli: Cli) -> None:
    """Releasing the other account's `api` leaves the runner's `api` (same name, same
    region) alone, and the two releases hold different locks: they may run at once."""
    name, worlds = fleet(endpoint)
    mine, theirs = worlds["use1"], worlds["use1b"]
    path = tmp_path / "theirs.yaml"
    path.write_text(f"""version: 1
name: {name}-b
target: {{lambda: {{function: {name}, alias: live, version: "{theirs.new}"}},
         role_arn: "{OTHER}"}}
strategy: {{canary: {{weight: 10, bake: 1m}}}}
""")
    code, _, err = finish(cli.rollout(str(path), scale="60"))
    assert code == 0, err
    assert theirs.alias_state() == (theirs.new, {})
    assert mine.alias_state() == (mine.stable, {})  # untouched
    report = cli.report_document()
    assert report["locks"] == [f"lambda:222233334444:us-east-1:{name}:live"]
    assert report["target"]["account"] == "222233334444"
