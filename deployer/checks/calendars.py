"""A plan's deployment window with its SSM Change Calendars (SPEC §14): the allow/deny
schedule (pure arithmetic, plan/windows.py) and one `ssm:GetCalendarState` per
question, which answers OPEN only when every calendar is open, and when the state
next changes.

A calendar that cannot be read (missing, access denied, AWS failing after retries)
closes the window: deployer cannot tell whether a freeze is on, so traffic does not
move. The controller refuses such a run at its start (exit 5, nothing changed) and
holds one already under way, watching its checks; a rollback never asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from botocore.exceptions import ClientError

from deployer.aws import AwsContext, error_code
from deployer.core.clock import iso
from deployer.errors import DeployerError
from deployer.plan.windows import Schedule, WindowState

CLOSED = "CLOSED"


class CalendarWindow:
    def __init__(self, schedule: Schedule | None, aws: AwsContext,
                 calendars: Sequence[str]) -> None:
        self.schedule = schedule
        self.aws = aws
        self.calendars = list(calendars)
        self.client = aws.client("ssm")

    def state(self, at: datetime) -> WindowState:
        planned = self.schedule.state(at) if self.schedule is not None else WindowState(None)
        try:
            answer = self._ask(self.calendars, at)
        except _Unreadable as exc:
            return WindowState(str(exc), None, unreadable=True)
        if answer.get("State") != CLOSED:
            return planned
        closed = self._which_are_closed(at) if len(self.calendars) > 1 else self.calendars
        why = f"change calendar {', '.join(closed)} is CLOSED"
        if planned.closed_because is not None:
            why += f"; {planned.closed_because}"
        transition = _moment(answer.get("NextTransitionTime"))
        if transition is None:  # closed with no end in sight: re-read every poll
            return WindowState(why, None)
        after = max(transition, at)
        return WindowState(why, self.schedule.next_opening(after)
                           if self.schedule is not None else after)

    def _which_are_closed(self, at: datetime) -> list[str]:
        """The aggregate answer does not say which calendar is closed; ask each (only
        when closed, and plans name few)."""
        found = []
        for name in self.calendars:
            try:
                if self._ask([name], at).get("State") == CLOSED:
                    found.append(name)
            except _Unreadable:
                found.append(name)
        return found or self.calendars

    def _ask(self, names: list[str], at: datetime) -> dict[str, str]:
        try:
            answer = self.aws.call(self.client.get_calendar_state, CalendarNames=names,
                                   AtTime=iso(at))
        except ClientError as exc:
            raise _Unreadable(f"cannot read change calendar {', '.join(names)}: "
                              f"{error_code(exc)}: "
                              f"{exc.response.get('Error', {}).get('Message', '')}") from exc
        except DeployerError as exc:
            raise _Unreadable(f"cannot read change calendar {', '.join(names)}: "
                              f"{exc.message}") from exc
        return {k: v for k, v in answer.items() if isinstance(v, str)}


class _Unreadable(Exception):
    pass


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
