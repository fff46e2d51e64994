"""Deployment windows as time arithmetic (SPEC §14), on fixed instants (no clock):
allow and deny entries in IANA zones, across midnight and across daylight-saving
changes, the next opening and closing, and the plan's validation of them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from deployer.errors import PlanError
from deployer.plan.loader import load_plan
from deployer.plan.model import WindowsSpec
from deployer.plan.windows import parse_between, parse_days


def schedule(**spec: object) -> object:
    return WindowsSpec.model_validate(spec).schedule()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


WEEKDAYS = {"allow": [{"days": "mon-thu", "between": "09:00-16:00", "tz": "Europe/Berlin"}]}


def test_a_release_started_friday_afternoon_waits_until_monday_morning() -> None:
    windows = WindowsSpec.model_validate(WEEKDAYS).schedule()
    friday = utc("2026-12-04T16:00")  # Friday 17:00 in Berlin (CET, UTC+1)
    assert windows.closed_because(friday) == (
        "outside the allowed windows (mon-thu 09:00-16:00 Europe/Berlin)")
    assert windows.next_opening(friday) == utc("2026-12-07T08:00")  # Monday 09:00 CET
    thursday = utc("2026-12-03T10:00")
    assert windows.closed_because(thursday) is None
    assert windows.next_opening(thursday) == thursday
    assert windows.next_closing(thursday) == utc("2026-12-03T15:00")  # 16:00 CET


def test_windows_follow_daylight_saving() -> None:
    windows = WindowsSpec.model_validate(WEEKDAYS).schedule()
    # Summer time starts on Sunday 2027-03-28: Monday 09:00 is 07:00 UTC, not 08:00.
    assert windows.next_opening(utc("2027-03-26T16:00")) == utc("2027-03-29T07:00")
    assert windows.closed_because(utc("2027-03-29T07:30")) is None
    # and ends on Sunday 2027-10-31: Monday 09:00 is 08:00 UTC again
    assert windows.next_opening(utc("2027-10-29T15:00")) == utc("2027-11-01T08:00")


def test_a_window_across_midnight_belongs_to_the_day_it_starts() -> None:
    windows = schedule(allow=[{"days": "fri", "between": "22:00-02:00", "tz": "UTC"}])
    assert windows.closed_because(utc("2026-12-04T21:59")) is not None   # Friday
    assert windows.closed_because(utc("2026-12-04T22:00")) is None
    assert windows.closed_because(utc("2026-12-05T01:59")) is None       # Saturday night
    assert windows.closed_because(utc("2026-12-05T02:00")) is not None
    assert windows.closed_because(utc("2026-12-05T23:00")) is not None   # not Saturday's
    assert windows.next_opening(utc("2026-12-05T02:00")) == utc("2026-12-11T22:00")


def test_a_freeze_wins_over_allow_and_says_why_and_until_when() -> None:
    windows = schedule(**WEEKDAYS, deny=[{
        "from": "2026-12-19T18:00", "to": "2027-01-04T08:00", "tz": "Europe/Berlin",
        "reason": "year-end freeze"}])
    inside = utc("2026-12-22T10:00")  # a Tuesday, 11:00 in Berlin
    assert windows.closed_because(inside) == "year-end freeze (until 2027-01-04 08:00 CET)"
    # 08:00 on Monday 4 January ends the freeze, but the allow window opens at 09:00.
    assert windows.next_opening(inside) == utc("2027-01-04T08:00")
    assert windows.closed_because(utc("2027-01-04T07:59")) is not None


def test_no_allow_entry_means_always_open_but_for_denials() -> None:
    windows = schedule(deny=[{"from": "2026-12-24T00:00", "to": "2026-12-27T00:00"}])
    assert windows.closed_because(utc("2026-12-23T23:59")) is None
    assert windows.next_opening(utc("2026-12-25T12:00")) == utc("2026-12-27T00:00")
    assert windows.next_closing(utc("2026-12-20T00:00")) == utc("2026-12-24T00:00")


def test_days_and_time_ranges() -> None:
    assert parse_days("mon-thu") == {0, 1, 2, 3}
    assert parse_days("fri-mon") == {4, 5, 6, 0}
    assert parse_days("sat,sun") == {5, 6}
    assert parse_days("all") == set(range(7))
    assert parse_between("00:00-24:00")[2] is False  # the whole day, not across midnight
    assert parse_between("22:00-02:00")[2] is True
    for bad in ("mon-", "monday", "mon-xyz"):
        with pytest.raises(ValueError):
            parse_days(bad)
    for bad in ("9-16", "09:00", "09:00-09:00", "24:30-25:00", "09:60-10:00"):
        with pytest.raises(ValueError):
            parse_between(bad)


MON_THU = '{days: mon-thu, between: "09:00-16:00", tz: Europe/Berlin}'


def window_plan(tmp_path: Path, windows: str,
                strategy: str = "canary: {weight: 10, bake: 5m}") -> Path:
    """A one-Lambda plan with `windows` (YAML lines under `windows:`)."""
    path = tmp_path / "plan.yaml"
    path.write_text(f"""version: 1
name: win
target: {{lambda: {{function: api, alias: live, version: "3"}}}}
strategy: {{{strategy}}}
checks: {{alarms: [a]}}
windows:
{windows}""")
    return path


def test_validate_names_each_malformed_entry_at_its_line(tmp_path: Path) -> None:
    path = window_plan(tmp_path, """  allow:
    - {days: mon-thx, between: "09:00-25:00", tz: Europe/Berlinn}
  deny:
    - {from: "2026-12-19T18:00", to: "2026-12-01T08:00", tz: Europe/Berlin}
  outside: maybe
""")
    with pytest.raises(PlanError) as raised:
        load_plan(str(path))
    problems = raised.value.problems
    assert [p.split(": ")[0] for p in problems] == [
        f"{path}:8:14", f"{path}:8:32", f"{path}:8:51", f"{path}:10:38", f"{path}:11:12"]
    assert "windows.allow[0].tz: 'Europe/Berlinn' is not an IANA time zone" in problems[2]
    assert "must be after from" in problems[3]


def test_a_plan_with_windows_validates_without_warnings_and_a_bad_calendar_name_is_named(
        tmp_path: Path) -> None:
    from tests.conftest import run_cli

    path = window_plan(tmp_path, f"  allow: [{MON_THU}]\n  change_calendars: [prod-freeze]\n")
    validated = run_cli("validate", str(path), "--strict")
    assert validated.returncode == 0 and "warning" not in validated.stderr
    bad = window_plan(tmp_path, "  change_calendars: [prod freeze]\n")
    refused = run_cli("validate", str(bad))
    assert refused.returncode == 2
    assert f"{bad}:7:22: windows.change_calendars[0]: 'prod freeze' is not an SSM Change " \
        "Calendar name" in refused.stderr


def test_deny_times_may_name_seconds() -> None:
    windows = WindowsSpec.model_validate({"deny": [
        {"from": "2026-12-04T10:00:30", "to": "2026-12-04T10:00:45"}]}).schedule()
    assert windows.closed_because(utc("2026-12-04T10:00")) is None
    assert windows.closed_because(datetime(2026, 12, 4, 10, 0, 31, tzinfo=UTC)) == \
        "denied until 2026-12-04 10:00:45 UTC"
    assert windows.next_opening(datetime(2026, 12, 4, 10, 0, 31, tzinfo=UTC)) == \
        datetime(2026, 12, 4, 10, 0, 45, tzinfo=UTC)


def test_plan_at_shows_a_friday_release_waiting_for_monday(tmp_path: Path) -> None:
    """SPEC §14: a release started on Friday at 17:00 with a Mon-Thu window waits until
    Monday; the bake between shifts goes on in the window, a freeze pushes it further."""
    from tests.conftest import run_cli

    path = window_plan(tmp_path, f"  allow: [{MON_THU}]\n" + """\
  deny: [{from: "2026-12-19T18:00", to: "2027-01-04T08:00", tz: Europe/Berlin,
          reason: year-end freeze}]
""", strategy="linear: {step: 50, every: 7h}")
    shown = run_cli("plan", str(path), "--at", "2026-12-04T17:00+01:00")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.split("started at 2026-12-04T17:00:00+01:00:")[1].splitlines()
    assert "Mon 2026-12-07 09:00 UTC+01:00 shift to 50%" in lines[1]
    # 7h later it is 16:00, closed: the second shift waits for Tuesday 09:00.
    assert "Tue 2026-12-08 09:00 UTC+01:00 shift to 100%" in lines[3]
    frozen = run_cli("plan", str(path), "--at", "2026-12-18T15:00+01:00")
    # a Friday before the freeze: nothing moves until the freeze has ended
    assert "Mon 2027-01-04 09:00 UTC+01:00 shift to 50%" in frozen.stdout
    assert run_cli("plan", str(path), "--at", "friday").returncode == 2


def test_a_held_run_is_shown_with_why_and_when() -> None:
    from deployer.core.record import Phase, RunRecord
    from deployer.display.progress import LiveProgress
    from deployer.display.window_text import window_lines

    now = datetime(2027, 1, 2, 5, 0, tzinfo=UTC)
    held = {"closed_because": "year-end freeze (until 2027-01-04 08:00 CET)",
            "opens": "2027-01-04T07:00:00Z"}
    override = {"by": "ops@host", "reason": "INC-42", "at": "2027-01-02T05:00:00Z"}
    assert window_lines(held, None, now) == [
        "closed: year-end freeze (until 2027-01-04 08:00 CET); opens 2027-01-04T07:00:00Z "
        "(in 2d2h)"]
    assert window_lines({"closed_because": "change calendar x is CLOSED", "opens": None},
                        override, now) == [
        "closed: change calendar x is CLOSED; no opening known (read again every poll)",
        "overridden by ops@host at 2027-01-02T05:00:00Z: INC-42"]
    record = RunRecord(run_id="r", plan_name="p", target_key="k", target={"kind": "lambda"},
                       plan={}, started_at="t", phase=Phase.WAITING_WINDOW, window=held)
    from rich.console import Console

    console = Console(width=140, record=True)
    view = LiveProgress(3)
    view.record = record
    console.print(view._render())
    shown = next(line for line in console.export_text().splitlines()
                 if line.startswith("window"))
    assert "closed: year-end freeze (until 2027-01-04 08:00 CET); opens " \
        "2027-01-04T07:00:00Z" in shown
    assert "time left" not in console.export_text()  # the opening says it instead
