"""The real `deployer` CLI as a subprocess against a ThreadedMotoServer on 127.0.0.1.

Waits in plans are divided by --time-scale; nothing here sleeps for a fixed time
except polling AWS state with a bound.
"""

from __future__ import annotations

import itertools
import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from deployer.demo.world import LambdaWorld, create_lambda_world
from tests.e2e import Cli, finish, wait_until

NAMES = (f"fn{i}" for i in itertools.count())

PLAN = """\
version: 1
name: {name}
target:
  lambda: {{function: {function}, alias: live, version: "{version}"}}
strategy:
{strategy}
final_bake: {final_bake}
checks: {{alarms: [{alarm}], poll_every: 5s}}
{extra}
"""


@pytest.fixture
def world(endpoint: str) -> LambdaWorld:
    name = next(NAMES)
    return create_lambda_world(endpoint, function=name, alarms=(f"{name}-errors",))


@pytest.fixture
def plan_file(tmp_path: Path) -> Callable[..., str]:
    def write(world: LambdaWorld, strategy: str = "  canary: {weight: 10, bake: 1m}",
              final_bake: str = "0s", extra: str = "", version: str | None = None) -> str:
        path = tmp_path / f"{world.function}.yaml"
        path.write_text(PLAN.format(name=world.function, function=world.function,
                                    version=version or world.new, strategy=strategy,
                                    final_bake=final_bake, alarm=world.alarms[0], extra=extra))
        return str(path)

    return write


def test_canary_succeeds(world: LambdaWorld, plan_file: Callable[..., str], cli: Cli) -> None:
    code, _, err = finish(cli.rollout(plan_file(world, final_bake="30s")))
    assert code == 0, err
    assert world.alias_state() == (world.new, {})
    report = cli.report_document()
    assert report["outcome"] == "succeeded"
    assert report["phase"] == "SUCCEEDED"
    assert report["weight"] == 100
    assert report["time_scale"] == 20
    assert report["target"]["stable_version"] == world.stable
    assert report["target"]["new_version"] == world.new
    shifted = [e["weight"] for e in report["events"] if e["message"].startswith("shifted")]
    assert shifted == [10, 100]
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert {"event", "run_id", "phase", "timestamp"} <= set(lines[0])


def test_a_plan_that_watches_nothing_releases_with_a_warning(
        world: LambdaWorld, plan_file: Callable[..., str], cli: Cli, tmp_path: Path) -> None:
    plan = Path(plan_file(world))
    plan.write_text(plan.read_text().replace(f"alarms: [{world.alarms[0]}], ", ""))
    world.set_alarm(world.alarms[0], "ALARM")  # not the plan's: nothing may read it
    code, _, err = finish(cli.rollout(str(plan), "--report-html", str(tmp_path / "r.html")))
    assert code == 0, err
    assert world.alias_state() == (world.new, {})
    assert f"{plan}: warning: this release watches nothing" in err
    report = cli.report_document()
    assert report["warnings"] and report["warnings"][0].startswith("this release watches")
    assert any(e["message"].startswith("warning: this release watches nothing")
               for e in report["events"])
    assert "warning: this release watches nothing" in (tmp_path / "r.html").read_text()


def test_an_alarm_named_by_its_logical_id_is_refused_with_the_physical_name(
        endpoint: str, plan_file: Callable[..., str], cli: Cli) -> None:
    """SAM and the Serverless plugin write alarms as CloudFormation logical ids; AWS knows
    them as <stack>-<LogicalId>-<suffix>."""
    name = next(NAMES)
    physical = f"svc-dev-{name}FooAlarm-1M9QX2EXAMPL3"
    world = create_lambda_world(endpoint, function=name, alarms=(physical,))
    plan = Path(plan_file(world))
    plan.write_text(plan.read_text().replace(physical, f"{name}FooAlarm"))
    code, _, err = finish(cli.rollout(str(plan)))
    assert code == 5, err
    assert f"alarm not found: {name}FooAlarm" in err
    assert f"did you mean {name}FooAlarm -> {physical}?" in err
    assert "(nothing changed)" in err and "read back" not in err
    assert world.alias_state() == (world.stable, {})


def test_alarm_mid_bake_rolls_back(world: LambdaWorld, plan_file: Callable[..., str],
                                   cli: Cli) -> None:
    process = cli.rollout(plan_file(world, strategy="  canary: {weight: 10, bake: 10m}"))
    wait_until(lambda: world.alias_state() == (world.stable, {world.new: 0.1}))
    world.set_alarm(world.alarms[0], "ALARM")
    code, _, err = finish(process)
    assert code == 3, err
    assert world.alias_state() == (world.stable, {})
    report = cli.report_document()
    assert report["outcome"] == "rolled_back"
    assert report["phase"] == "ROLLED_BACK"
    assert report["reason"] == f"alarm {world.alarms[0]} is in ALARM"
    assert report["weight"] == 0


def test_failing_before_traffic_hook_never_shifts(world: LambdaWorld,
                                                  plan_file: Callable[..., str],
                                                  cli: Cli) -> None:
    failing = f"[{sys.executable}, -c, 'raise SystemExit(1)']"
    hook = f"hooks: {{before_traffic: [{{command: {failing}}}]}}"
    code, _, err = finish(cli.rollout(plan_file(world, extra=hook)))
    assert code == 3, err
    report = cli.report_document()
    assert report["reason"].startswith("before_traffic hook command")
    assert report["reason"].endswith("failed: exit status 1")
    assert not [e for e in report["events"] if e["message"].startswith("shifted")]
    assert world.alias_state() == (world.stable, {})


def test_sigterm_mid_bake_aborts_and_restores(world: LambdaWorld,
                                              plan_file: Callable[..., str], cli: Cli) -> None:
    process = cli.rollout(plan_file(world, strategy="  canary: {weight: 10, bake: 30m}"))
    wait_until(lambda: world.alias_state() == (world.stable, {world.new: 0.1}))
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code, _, err = finish(process)
    elapsed = time.monotonic() - sent
    assert code == 4, err
    assert world.alias_state() == (world.stable, {})
    report = cli.report_document()
    assert report["outcome"] == "aborted"
    assert report["reason"] == "aborted by SIGTERM"
    assert elapsed < 5


def test_second_rollout_on_the_same_alias_is_refused(world: LambdaWorld,
                                                     plan_file: Callable[..., str],
                                                     cli: Cli) -> None:
    plan = plan_file(world, strategy="  canary: {weight: 10, bake: 30m}")
    first = cli.rollout(plan)
    wait_until(lambda: world.alias_state() == (world.stable, {world.new: 0.1}))
    second = cli.run("rollout", plan, "--time-scale", "20")
    assert second.returncode == 5, second.stderr
    assert "holds lambda:us-east-1:" in second.stderr
    first.send_signal(signal.SIGTERM)
    assert finish(first)[0] == 4


def test_missing_alias_is_refused_and_changes_nothing(world: LambdaWorld,
                                                      plan_file: Callable[..., str],
                                                      cli: Cli) -> None:
    plan = plan_file(world)
    result = cli.run("rollout", plan, "--set", "target.lambda.alias=nope", "--report",
                     str(cli.report))
    assert result.returncode == 5, result.stderr
    assert "alias nope of function" in result.stderr
    assert cli.report_document()["outcome"] == "refused"
    assert world.alias_state() == (world.stable, {})


def test_rerun_on_the_target_version_is_a_noop(world: LambdaWorld,
                                               plan_file: Callable[..., str], cli: Cli) -> None:
    plan = plan_file(world, strategy="  all_at_once: {}")
    assert finish(cli.rollout(plan))[0] == 0
    again = cli.run("rollout", plan, "--report", str(cli.report))
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in cli.report_document()["reason"]


def test_dry_run_changes_nothing(world: LambdaWorld, plan_file: Callable[..., str],
                                 cli: Cli) -> None:
    result = cli.run("rollout", plan_file(world), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["target"]["stable_version"] == world.stable
    assert world.alias_state() == (world.stable, {})


def test_invalid_plan_exits_2(world: LambdaWorld, plan_file: Callable[..., str],
                              cli: Cli) -> None:
    result = cli.run("rollout", plan_file(world), "--set", "strategy.canary.weight=0")
    assert result.returncode == 2
    assert "strategy.canary.weight: weight 0 is out of range" in result.stderr
    assert "Traceback" not in result.stderr


def test_rerun_of_a_publish_plan_is_a_noop(world: LambdaWorld, tmp_path: Path,
                                           cli: Cli) -> None:
    plan = tmp_path / "publish.yaml"
    plan.write_text(PLAN.format(name=world.function, function=world.function,
                                version=world.new, strategy="  all_at_once: {}",
                                final_bake="0s", alarm=world.alarms[0], extra="")
                    .replace(f'version: "{world.new}"', "publish: true"))
    assert finish(cli.rollout(str(plan)))[0] == 0
    released = world.alias_state()
    again = cli.run("rollout", str(plan), "--report", str(cli.report))
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in cli.report_document()["reason"]
    assert world.alias_state() == released
