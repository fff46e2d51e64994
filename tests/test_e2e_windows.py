"""Deployment windows end to end (SPEC §14): the real CLI against a ThreadedMotoServer.
Windows are wall-clock time, so these use deny entries a few seconds wide around now,
and SSM Change Calendars the test opens and closes. moto has no Change Calendars:
tests/calendar_moto.py patches its SSM responses in this test process (which hosts
the server) to answer GetCalendarState from states the test sets."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deployer.demo.world import LambdaWorld, create_lambda_world
from tests.calendar_moto import CALENDARS, Calendar, patch_calendars
from tests.e2e import Cli, finish, subscribed_queue, wait_until

NAMES = (f"win{i}" for i in itertools.count())

PLAN = """\
version: 1
name: {name}
target:
  lambda: {{function: {name}, alias: live, version: "{version}"}}
strategy: {{canary: {{weight: 10, bake: {bake}}}}}
checks: {{alarms: [{alarm}], poll_every: 5s}}
windows:
{windows}
{extra}"""


@pytest.fixture(autouse=True, scope="module")
def calendars() -> Iterator[None]:
    patch_calendars()
    yield
    CALENDARS.clear()


@pytest.fixture
def world(endpoint: str) -> LambdaWorld:
    name = next(NAMES)
    return create_lambda_world(endpoint, function=name, alarms=(f"{name}-errors",))


@pytest.fixture
def plan_for(tmp_path: Path) -> Callable[..., str]:
    def write(world: LambdaWorld, windows: str, bake: str = "10m", extra: str = "") -> str:
        path = tmp_path / f"{world.function}.yaml"
        path.write_text(PLAN.format(name=world.function, version=world.new, bake=bake,
                                    alarm=world.alarms[0], windows=windows, extra=extra))
        return str(path)

    return write


def stored(cli: Cli) -> dict[str, Any]:
    """The test's only run, as the file store holds it."""
    runs = list((Path(cli.env["DEPLOYER_STORE"].removeprefix("file://")) / "runs").glob(
        "*.json"))
    return dict(json.loads(runs[0].read_text())) if len(runs) == 1 else {}


def freeze_from_now(seconds: float) -> str:
    """A deny entry from a minute ago until `seconds` from now, in UTC with seconds."""
    now = datetime.now(UTC)
    start, end = now - timedelta(minutes=1), now + timedelta(seconds=seconds)
    return (f"  deny: [{{from: \"{start:%Y-%m-%dT%H:%M:%S}\", to: \"{end:%Y-%m-%dT%H:%M:%S}\","
            f" reason: release freeze}}]")


def messages(document: dict[str, Any]) -> list[str]:
    return [e["message"] for e in document["events"]]


def test_a_freeze_mid_release_holds_the_shift_but_never_the_rollback(
        world: LambdaWorld, plan_for: Callable[..., str], cli: Cli) -> None:
    CALENDARS["freeze-a"] = Calendar("OPEN")
    process = cli.rollout(plan_for(world, "  change_calendars: [freeze-a]"))
    wait_until(lambda: stored(cli).get("phase") == "BAKING")
    run_id = stored(cli)["run_id"]
    # An incident opens: the calendar closes with no end known. The bake is skipped so
    # that the next step is the shift to 100%, which the window must hold.
    CALENDARS["freeze-a"] = Calendar("CLOSED")
    assert cli.run("promote", run_id).returncode == 0
    wait_until(lambda: stored(cli).get("phase") == "WAITING_WINDOW")
    assert world.alias_state() == (world.stable, {world.new: 0.1})  # held at 10%
    shown = cli.run("status", run_id)
    assert "window   closed: change calendar freeze-a is CLOSED; no opening known" in \
        shown.stdout
    document = json.loads(cli.run("status", run_id, "--json").stdout)
    assert document["window"] == {"closed_because": "change calendar freeze-a is CLOSED",
                                  "opens": None}
    # An alarm while held rolls back at once: a window never holds a rollback.
    world.set_alarm(world.alarms[0], "ALARM")
    code, _, err = finish(process)
    assert code == 3, err
    assert world.alias_state() == (world.stable, {})
    report = cli.report_document()
    assert report["outcome"] == "rolled_back" and world.alarms[0] in report["reason"]
    assert any(m.startswith("holding at 10%: the deployment window is closed (change "
                            "calendar freeze-a is CLOSED)") for m in messages(report))


def test_a_release_started_in_a_freeze_waits_then_goes_on(
        world: LambdaWorld, plan_for: Callable[..., str], cli: Cli) -> None:
    CALENDARS["freeze-b"] = Calendar("CLOSED", "2030-01-01T00:00:00Z")
    process = cli.rollout(plan_for(world, "  change_calendars: [freeze-b]", bake="20s"))
    wait_until(lambda: stored(cli).get("phase") == "WAITING_WINDOW")
    held = stored(cli)
    assert held["weight"] in (None, 0) and world.alias_state() == (world.stable, {})
    assert held["window"] == {"closed_because": "change calendar freeze-b is CLOSED",
                              "opens": "2030-01-01T00:00:00Z"}
    CALENDARS["freeze-b"] = Calendar("OPEN")  # the freeze is lifted early
    code, _, err = finish(process)
    assert code == 0, err
    assert world.alias_state() == (world.new, {})
    events = messages(cli.report_document())
    assert events.index("the deployment window is open: going on") < \
        next(i for i, m in enumerate(events) if m.startswith("shifted to 10%"))


def test_an_override_releases_in_a_freeze_and_leaves_a_trail(
        world: LambdaWorld, plan_for: Callable[..., str], cli: Cli, endpoint: str,
        tmp_path: Path) -> None:
    topic, notified = subscribed_queue(endpoint, world.function)
    plan = plan_for(world, freeze_from_now(3600) + "\n  outside: refuse", bake="5s",
                    extra=f"notify: {{sns_topic: '{topic}'}}")
    refused = cli.run("rollout", plan, "--time-scale", "20")
    assert refused.returncode == 5, refused.stderr
    assert "the deployment window is closed (release freeze (until " in refused.stderr
    assert "(nothing changed)" in refused.stderr and "--override-window" in refused.stderr
    for path in Path(cli.env["DEPLOYER_STORE"].removeprefix("file://"), "runs").glob("*"):
        path.unlink()  # the refused run's record: the next is the test's only one
    page = tmp_path / "report.html"
    code, _, err = finish(cli.rollout(plan, "--override-window", "--reason",
                                      "INC-42 hotfix", "--report-html", str(page)))
    assert code == 0, err
    assert world.alias_state() == (world.new, {})
    report = cli.report_document()
    override = report["window_override"]
    assert override["reason"] == "INC-42 hotfix" and override["by"]
    assert f"deployment window overridden by {override['by']}: INC-42 hotfix" in \
        messages(report)
    assert "INC-42 hotfix" in page.read_text()
    status = cli.run("status", report["run_id"])
    assert "window   overridden by" in status.stdout and "INC-42 hotfix" in status.stdout
    def released() -> list[dict[str, Any]]:
        return [m for m in notified() if m["run_id"] == report["run_id"]]

    wait_until(lambda: [m["event"] for m in released()] == ["started", "promoted",
                                                            "succeeded"], 10)
    assert all(m["window_override"]["reason"] == "INC-42 hotfix" for m in released())
    assert [m["event"] for m in notified() if "window_override" not in m] == ["refused"]


def test_a_calendar_that_cannot_be_read_refuses_the_release(
        world: LambdaWorld, plan_for: Callable[..., str], cli: Cli) -> None:
    result = cli.run("rollout", plan_for(world, "  change_calendars: [no-such-calendar]"),
                     "--time-scale", "20")
    assert result.returncode == 5, result.stderr
    assert "cannot read change calendar no-such-calendar: InvalidDocument" in result.stderr
    assert "ssm:GetCalendarState" in result.stderr
    assert world.alias_state() == (world.stable, {})


def test_promote_override_window_breaks_glass_for_a_held_run(
        world: LambdaWorld, plan_for: Callable[..., str], cli: Cli) -> None:
    process = cli.rollout(plan_for(world, freeze_from_now(3600), bake="5s"))
    wait_until(lambda: stored(cli).get("phase") == "WAITING_WINDOW")
    run_id = stored(cli)["run_id"]
    assert cli.run("promote", run_id, "--override-window").returncode == 2  # no reason
    asked = cli.run("promote", run_id, "--override-window", "--reason", "INC-7 rollback fix")
    assert asked.returncode == 0, asked.stderr
    code, _, err = finish(process)
    assert code == 0, err
    assert world.alias_state() == (world.new, {})
    report = cli.report_document()
    assert report["window_override"]["reason"] == "INC-7 rollback fix"
    assert any(m.startswith("deployment window overridden by ") and
               m.endswith(": INC-7 rollback fix") for m in messages(report))
