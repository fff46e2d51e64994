"""Deployment windows on the Step Functions engine, end to end (SPEC §14): the real CLI
starts an execution on a moto server that runs state machines (tests/sfn_moto.py) and
returns; the machine holds in WAITING_WINDOW with no deployer process alive. moto has
no SSM Change Calendars: tests/calendar_moto.py patches its SSM responses in this
test process (which hosts the server), and the machine's getCalendarState reaches it
like any aws-sdk call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from deployer.demo.world import LambdaWorld
from tests import test_e2e_stepfunctions as sfn
from tests.calendar_moto import CALENDARS, Calendar, patch_calendars
from tests.e2e import Cli, wait_until
from tests.test_e2e_stepfunctions import follow, messages, phase_is, start, status

# The Step Functions end-to-end fixtures: the machine-running server, the CLI on the
# DynamoDB store, a Lambda world, its plan.
endpoint, cli, world, plan_file = sfn.endpoint, sfn.cli, sfn.world, sfn.plan_file


@pytest.fixture(autouse=True, scope="module")
def calendars() -> Iterator[None]:
    patch_calendars()
    yield
    CALENDARS.clear()


def freeze_for(seconds: float) -> str:
    now = datetime.now(UTC)
    start, end = now - timedelta(minutes=1), now + timedelta(seconds=seconds)
    return (f"windows:\n  deny: [{{from: \"{start:%Y-%m-%dT%H:%M:%S}\", "
            f"to: \"{end:%Y-%m-%dT%H:%M:%S}\", reason: release freeze}}]")


def test_the_machine_waits_for_the_window_then_releases(
        world: LambdaWorld, plan_file: Callable[..., str], cli: Cli) -> None:
    # Closed until the test opens it (no race with the clock); its announced opening
    # is a second away, so the machine looks again then, and every 3 s after
    # (5 minutes of plan time at time-scale 100) until it is open.
    soon = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    CALENDARS["sfn-start"] = Calendar("CLOSED", soon)
    run_id = start(cli, plan_file(world, strategy="  canary: {weight: 10, bake: 2s}",
                                  extra="windows: {change_calendars: [sfn-start]}"),
                   "--time-scale", "100")
    wait_until(phase_is(cli, run_id, "WAITING_WINDOW"), 30)
    held = status(cli, run_id)
    assert world.alias_state() == (world.stable, {})
    assert held["window"]["closed_because"] == "change calendar sfn-start is CLOSED"
    shown = cli.run("status", run_id)
    assert "window   closed: change calendar sfn-start is CLOSED" in shown.stdout
    CALENDARS["sfn-start"] = Calendar("OPEN")
    code, document = follow(cli, run_id)
    assert code == 0, document
    assert world.alias_state() == (world.new, {})
    events = messages(document)
    assert any(m.startswith("holding at 0%: the deployment window is closed (change "
                            "calendar sfn-start is CLOSED)") for m in events)
    assert events.index("the deployment window is open: going on") < \
        events.index("shifted to 10% (read back)")
    assert "window" not in document


def test_a_calendar_closing_mid_release_holds_but_never_blocks_the_rollback(
        world: LambdaWorld, plan_file: Callable[..., str], cli: Cli) -> None:
    CALENDARS["sfn-freeze"] = Calendar("OPEN")
    run_id = start(cli, plan_file(world, strategy="  canary: {weight: 10, bake: 30s}",
                                  extra="windows: {change_calendars: [sfn-freeze]}"))
    wait_until(phase_is(cli, run_id, "BAKING"), 30)
    CALENDARS["sfn-freeze"] = Calendar("CLOSED")  # an incident: no end known
    assert cli.run("promote", run_id).returncode == 0  # the next step is the shift
    wait_until(phase_is(cli, run_id, "WAITING_WINDOW"), 30)
    assert world.alias_state() == (world.stable, {world.new: 0.1})
    assert status(cli, run_id)["window"] == {
        "closed_because": "change calendar sfn-freeze is CLOSED", "opens": None}
    world.set_alarm(world.alarms[0], "ALARM")
    code, document = follow(cli, run_id)
    assert code == 3, document
    assert world.alias_state() == (world.stable, {})
    assert "an alarm is in ALARM" in document["reason"]


@pytest.mark.slow
def test_promote_override_window_releases_the_held_machine(
        world: LambdaWorld, plan_file: Callable[..., str], cli: Cli) -> None:
    # Before the first shift the machine looks every 5 minutes (plan time): at
    # time-scale 100, every 3 s.
    run_id = start(cli, plan_file(world, strategy="  canary: {weight: 10, bake: 1s}",
                                  extra=freeze_for(3600)), "--time-scale", "100")
    wait_until(phase_is(cli, run_id, "WAITING_WINDOW"), 30)
    asked = cli.run("promote", run_id, "--override-window", "--reason", "INC-9 fix")
    assert asked.returncode == 0, asked.stderr
    code, document = follow(cli, run_id)
    assert code == 0, document
    assert world.alias_state() == (world.new, {})
    assert document["window_override"]["reason"] == "INC-9 fix"
    events = messages(document)
    assert any(m.startswith("deployment window overridden by ") and m.endswith(": INC-9 fix")
               for m in events)
    assert "the deployment window is overridden: going on" in events
