"""SSM Change Calendars for the moto server this test process hosts. moto rejects
ChangeCalendar documents and has no GetCalendarState (MOTO-NOTES), so the test sets
each calendar's state here and the server answers GetCalendarState as AWS does: OPEN
only when every calendar named is open, with the next transition; an unknown name is
`InvalidDocument`."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass
class Calendar:
    state: str = "OPEN"
    next_transition: str | None = None


CALENDARS: dict[str, Calendar] = {}
ASKED: list[list[str]] = []  # every GetCalendarState's CalendarNames


def patch_calendars() -> None:
    from moto.core.exceptions import JsonRESTError
    from moto.ssm.responses import SimpleSystemManagerResponse

    def get_calendar_state(self: SimpleSystemManagerResponse) -> str:
        names = list(self._get_param("CalendarNames") or [])
        ASKED.append(names)
        found = []
        for name in names:
            calendar = CALENDARS.get(name.rsplit("/", 1)[-1])
            if calendar is None:
                raise JsonRESTError("InvalidDocument", f"Document {name} does not exist.")
            found.append(calendar)
        closed = [c for c in found if c.state == "CLOSED"]
        deciding = closed or found
        transitions = [c.next_transition for c in deciding]
        # Closed: open again when the last closed calendar opens (unknown if any is).
        # Open: closed again at the first calendar's closing.
        if closed:
            transition = None if None in transitions else max(t for t in transitions if t)
        else:
            transition = min((t for t in transitions if t), default=None)
        answer = {"State": "CLOSED" if closed else "OPEN",
                  "AtTime": self._get_param("AtTime") or ""}
        if transition:
            answer["NextTransitionTime"] = transition
        return json.dumps(answer)

    SimpleSystemManagerResponse.get_calendar_state = get_calendar_state  # type: ignore[attr-defined]
