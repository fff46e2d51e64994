"""CalendarWindow: a plan's schedule with its SSM Change Calendars. moto implements no
GetCalendarState, so these use botocore's Stubber (the end-to-end tests patch moto)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import Stubber

from deployer.aws import AwsContext
from deployer.checks.calendars import CalendarWindow
from deployer.plan.model import WindowsSpec

FRIDAY = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)  # 17:00 in Berlin


@pytest.fixture
def aws() -> AwsContext:
    return AwsContext(region="us-east-1", sleep=lambda seconds: None, botocore_attempts=1)


@pytest.fixture
def stub(aws: AwsContext) -> Iterator[Stubber]:
    with Stubber(aws.client("ssm")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def answer(stub: Stubber, names: list[str], state: str, transition: str | None = None
           ) -> None:
    """The next GetCalendarState, asked about FRIDAY."""
    body: dict[str, Any] = {"State": state, "AtTime": "2026-12-04T16:00:00Z"}
    if transition is not None:
        body["NextTransitionTime"] = transition
    stub.add_response("get_calendar_state", body,
                      {"CalendarNames": names, "AtTime": "2026-12-04T16:00:00Z"})


def test_open_calendars_leave_the_schedule_to_decide(aws: AwsContext, stub: Stubber) -> None:
    schedule = WindowsSpec.model_validate(
        {"allow": [{"days": "mon-thu", "between": "09:00-16:00", "tz": "Europe/Berlin"}]}
    ).schedule()
    answer(stub, ["prod-freeze"], "OPEN", "2026-12-19T17:00:00Z")
    state = CalendarWindow(schedule, aws, ["prod-freeze"]).state(FRIDAY)
    assert state.closed_because == \
        "outside the allowed windows (mon-thu 09:00-16:00 Europe/Berlin)"
    assert state.opens == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def test_a_closed_calendar_opens_at_its_transition_and_the_schedule(aws: AwsContext,
                                                                    stub: Stubber) -> None:
    schedule = WindowsSpec.model_validate(
        {"allow": [{"days": "mon-thu", "between": "09:00-16:00", "tz": "Europe/Berlin"}]}
    ).schedule()
    # The calendar opens on Tuesday 20:00 UTC, after that day's window: Wednesday 09:00.
    answer(stub, ["prod-freeze"], "CLOSED", "2026-12-08T20:00:00Z")
    state = CalendarWindow(schedule, aws, ["prod-freeze"]).state(FRIDAY)
    assert state.closed_because == (
        "change calendar prod-freeze is CLOSED; outside the allowed windows "
        "(mon-thu 09:00-16:00 Europe/Berlin)")
    assert state.opens == datetime(2026, 12, 9, 8, 0, tzinfo=UTC)
    assert not state.unreadable


def test_several_calendars_name_the_closed_one(aws: AwsContext, stub: Stubber) -> None:
    answer(stub, ["prod-freeze", "incidents"], "CLOSED")
    answer(stub, ["prod-freeze"], "OPEN", "2026-12-19T17:00:00Z")
    answer(stub, ["incidents"], "CLOSED")
    state = CalendarWindow(None, aws, ["prod-freeze", "incidents"]).state(FRIDAY)
    assert state.closed_because == "change calendar incidents is CLOSED"
    assert state.opens is None  # an open incident has no end in sight: read every poll


def test_a_calendar_alone_opens_at_its_transition(aws: AwsContext, stub: Stubber) -> None:
    answer(stub, ["prod-freeze"], "CLOSED", "2027-01-04T07:00:00Z")
    state = CalendarWindow(None, aws, ["prod-freeze"]).state(FRIDAY)
    assert state.opens == datetime(2027, 1, 4, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(("code", "message"), [
    ("InvalidDocument", "Document prod-freez does not exist"),
    ("AccessDeniedException", "not authorized to perform ssm:GetCalendarState"),
    ("InternalServerError", "try again"),  # after the retries
])
def test_an_unreadable_calendar_is_closed_never_open(aws: AwsContext, stub: Stubber,
                                                     code: str, message: str) -> None:
    attempts = aws.max_attempts if code == "InternalServerError" else 1
    for _ in range(attempts):
        stub.add_client_error("get_calendar_state", code, message,
                              http_status_code=500 if code == "InternalServerError" else 400)
    state = CalendarWindow(None, aws, ["prod-freez"]).state(FRIDAY)
    assert state.unreadable and not state.is_open
    assert state.closed_because == f"cannot read change calendar prod-freez: {code}: {message}"
