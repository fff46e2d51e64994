"""Deployment windows in the state machine (SPEC §14): the machine's judge (JSONata,
run here by jsonata-python) decides as the local engine does — open or closed, why,
and when it opens — on the closed stretches `rollout` computes, for instants across
a week, a DST change and a freeze, with each calendar answer; and the definition,
its history budget and the machine role's policy."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deployer.aws import AwsContext
from deployer.checks.calendars import CalendarWindow
from deployer.core.clock import iso
from deployer.plan.loader import load_plan
from deployer.plan.model import ReleasePlan
from deployer.stepfunctions.compiler import compile_plan
from deployer.stepfunctions.history import hold_allowance, worst_case
from deployer.stepfunctions.validate import engine_problems
from deployer.stepfunctions.windows import judge_expression, window_input
from tests.test_stepfunctions_compiler import every_state, jsonata_expressions, lint

WINDOWS = """\
  allow: [{days: mon-thu, between: "09:00-16:00", tz: Europe/Berlin},
          {days: fri, between: "22:00-02:00", tz: America/New_York}]
  deny: [{from: "2027-03-29T10:00", to: "2027-03-30T12:30", tz: Europe/Berlin,
          reason: quarter close}]
  change_calendars: [prod-freeze]"""


def plan_with(tmp_path: Path, windows: str = WINDOWS, extra: str = "") -> ReleasePlan:
    path = tmp_path / "plan.yaml"
    path.write_text(f"""version: 1
name: shop
target: {{lambda: {{function: shop, alias: live, version: "3"}}}}
strategy: {{linear: {{step: 25, every: 10m}}}}
checks: {{alarms: [shop-5xx], poll_every: 10s}}
{extra}windows:
{windows}
""")
    return load_plan(str(path)).plan


class Answer:
    """An ssm client whose GetCalendarState answers what the test says."""

    def __init__(self, answer: dict[str, str]) -> None:
        self.answer = answer

    def get_calendar_state(self, **_: Any) -> dict[str, str]:
        return self.answer


def machine_judge(windows: dict[str, Any], calendar: dict[str, str], now: datetime,
                  position: int = 5, weight: float = 25) -> dict[str, Any]:
    import jsonata

    expression = jsonata.Jsonata(judge_expression(2).strip()[2:-2])
    expression.assign("states", {
        "input": {"windows": windows, "wcal": calendar, "pos": {"at": position},
                  "run": {"poll": 10}, "cur": {"weight": weight}},
        "context": {"State": {"EnteredTime": now.strftime("%Y-%m-%dT%H:%M:%S.123Z")}}})
    return dict(expression.evaluate(None)["win"])


CALENDARS = {
    "open": ({"State": "OPEN", "NextTransitionTime": "2027-04-02T00:00:00Z"},
             {"state": "OPEN", "next": "2027-04-02T00:00:00Z"}),
    "closed until": ({"State": "CLOSED", "NextTransitionTime": "2027-03-30T20:00:00Z"},
                     {"state": "CLOSED", "next": "2027-03-30T20:00:00Z"}),
    "closed": ({"State": "CLOSED"}, {"state": "CLOSED"}),
}


@pytest.mark.parametrize("calendar", [
    "open", "closed until", pytest.param("closed", marks=pytest.mark.slow)])
def test_the_machine_judges_as_the_local_engine_does(tmp_path: Path, calendar: str) -> None:
    plan = plan_with(tmp_path)
    started = datetime(2027, 3, 24, 15, 7, tzinfo=UTC)  # a week across Europe's DST change
    windows = window_input(plan, started, 1.0, 100)
    assert plan.windows is not None
    local = CalendarWindow(plan.windows.schedule(), AwsContext(region="us-east-1"),
                           ["prod-freeze"])
    local_answer, machine_answer = CALENDARS[calendar]
    local.client = Answer(local_answer)  # type: ignore[assignment]
    compared = 0
    for minutes in range(0, 8 * 24 * 60, 37):
        now = started + timedelta(minutes=minutes, seconds=11)
        expected = local.state(now)
        judged = machine_judge(windows or {}, machine_answer, now)
        assert judged["open"] == expected.is_open, (now, judged, expected)
        if not expected.is_open:
            assert judged["why"] == expected.closed_because, now
            assert judged["opens"] == (iso(expected.opens) if expected.opens else None), now
            shown = json.loads(judged["shown"])
            assert shown == {"closed_because": expected.closed_because,
                             "opens": judged["opens"]}
        compared += 1
    assert compared > 300


def test_the_machine_waits_until_the_opening_or_the_next_poll(tmp_path: Path) -> None:
    plan = plan_with(tmp_path, '  deny: [{from: "2027-01-04T10:00", to: "2027-01-04T10:30"}]')
    started = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)
    windows = window_input(plan, started, 1.0, 100) or {}
    open_calendar = {"state": "OPEN"}
    # Nothing has traffic yet (the first shift): wait for the opening, looking every 5m.
    idle = machine_judge(windows, open_calendar, started + timedelta(minutes=28), position=2,
                         weight=0)
    assert idle["sleep"] == 120 and idle["opens"] == "2027-01-04T10:30:00Z"
    assert idle["holding"] == ("holding at 0%: the deployment window is closed (denied until "
                               "2027-01-04 10:30 UTC); it opens 2027-01-04T10:30:00Z; checks "
                               "are still watched")
    assert machine_judge(windows, open_calendar, started, position=2)["sleep"] == 300
    # Mid-release: the checks are polled every poll_every while it holds.
    assert machine_judge(windows, open_calendar, started)["sleep"] == 10
    # An unreadable calendar is closed, never open.
    error = machine_judge(windows, {"error": "Ssm.InvalidDocumentException: no such"},
                          started + timedelta(hours=1))
    assert error["open"] is False and error["opens"] is None
    assert error["why"] == "cannot read change calendar : Ssm.InvalidDocumentException: no such"


def test_an_override_opens_whatever_the_windows_say(tmp_path: Path) -> None:
    import jsonata

    plan = plan_with(tmp_path)
    windows = window_input(plan, datetime(2027, 3, 26, 20, tzinfo=UTC), 1.0, 100)
    expression = jsonata.Jsonata(judge_expression(2).strip()[2:-2])
    expression.assign("states", {
        "input": {"windows": windows, "wcal": {"state": "CLOSED"}, "pos": {"at": 2},
                  "cur": {"weight": 0},
                  "run": {"poll": 10, "override": {"by": "ops", "reason": "INC-1"}}},
        "context": {"State": {"EnteredTime": "2027-03-26T20:00:00.000Z"}}})
    judged = expression.evaluate(None)["win"]
    assert judged["open"] is True
    assert judged["goOn"] == "the deployment window is overridden: going on"


def test_closed_spans_open_where_the_schedule_next_opens(tmp_path: Path) -> None:
    plan = plan_with(tmp_path)
    assert plan.windows is not None
    schedule = plan.windows.schedule()
    start, end = datetime(2027, 3, 20, tzinfo=UTC), datetime(2027, 4, 10, tzinfo=UTC)
    spans = schedule.closed_spans(start, end)
    assert len(spans) > 15
    for first, last, why, opens in spans:
        assert schedule.closed_because(first) == why
        assert schedule.closed_because(last - timedelta(seconds=1)) is not None
        expected = schedule.next_opening(first)
        assert opens == (expected if expected is not None and expected < end else None)


def test_the_definition_holds_before_each_shift_and_reads_the_calendars(
        tmp_path: Path) -> None:
    plan = plan_with(tmp_path)
    definition = compile_plan(plan, "runs")
    states = dict(every_state(definition))
    ask = states["WindowAsk"]
    assert ask["Resource"] == "arn:aws:states:::aws-sdk:ssm:getCalendarState"
    assert ask["Arguments"] == {"CalendarNames": ["prod-freeze"]}
    assert ask["Catch"][0]["Next"] == "WindowJudge"  # unreadable: judged closed
    assert states["Dispatch"]["Choices"][[c["StringEquals"] for c in
                                          states["Dispatch"]["Choices"]].index("shift")][
        "Next"] == "WindowAsk"
    assert states["WindowWait"] == {"Type": "Wait", "SecondsPath": "$.win.sleep",
                                    "Next": "HoldPoll"}
    assert "sf_override" in states["HoldRequests"]["Parameters"]["ProjectionExpression"]
    rules = json.dumps(states["HoldJudge"]["Choices"])
    assert "HoldAlarm" in rules and "HoldAbort" in rules and "WindowOverride" in rules
    for expression in jsonata_expressions(definition):
        lint(expression)
    from deployer.cli.iam_policy import machine_role_policy

    policy = machine_role_policy(plan, "runs", "us-east-1")
    assert any(s["Action"] == ["ssm:GetCalendarState"] for s in policy["Statement"])
    assert engine_problems(plan) == []


def test_the_history_budget_counts_the_asks_and_bounds_the_holds(tmp_path: Path) -> None:
    with_windows = plan_with(tmp_path)
    (tmp_path / "plain").mkdir()
    plain = plan_with(tmp_path / "plain", "  outside: wait")
    assert worst_case(with_windows).events > worst_case(plain).events
    allowance = hold_allowance(with_windows)
    assert allowance > 500  # polls of 10s: over an hour and a half of holding
    # A final bake that leaves the budget fuller than one hold poll: refused by validate.
    from deployer.stepfunctions.history import HISTORY_LIMIT

    low, high = 0, 20_000  # polls of the final bake
    while low < high:  # the most polls whose worst case still fits
        middle = (low + high + 1) // 2
        fits = worst_case(plan_with(tmp_path, extra=f"final_bake: {middle * 10}s\n")).events \
            <= HISTORY_LIMIT
        low, high = (middle, high) if fits else (low, middle - 1)
    crowded = plan_with(tmp_path, extra=f"final_bake: {low * 10}s\n")
    assert worst_case(crowded).events <= HISTORY_LIMIT and hold_allowance(crowded) < 1
    assert engine_problems(crowded)[0].startswith("windows: this plan's worst case leaves "
                                                  "no room")


def test_a_stale_opening_waits_a_poll_not_a_second(tmp_path: Path) -> None:
    plan = plan_with(tmp_path, "  change_calendars: [prod-freeze]")
    started = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)
    windows = window_input(plan, started, 1.0, 100) or {}
    judged = machine_judge(windows, {"state": "CLOSED", "next": "2027-01-04T09:00:00Z"},
                           started)
    assert judged["open"] is False and judged["sleep"] == 10
