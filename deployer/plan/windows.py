"""Deployment windows and change freezes (SPEC §14), as pure time arithmetic: when a
plan's `windows` let traffic move, why not, and when they next will. No AWS here: SSM
Change Calendars are read by the checks that use this (their state is one more
reason to be closed, their next transition one more boundary).

Times are wall-clock times in each entry's IANA time zone (`zoneinfo`), so a window
follows daylight saving: `09:00-16:00 Europe/Berlin` is 08:00-15:00 UTC in winter and
07:00-14:00 UTC in summer. A `between` whose end is not after its start crosses
midnight (`22:00-02:00`), and belongs to the day it starts on. A local time that a
DST change skips is taken as the same offset as just before it (Python's fold=0).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HORIZON_DAYS = 400  # how far ahead the next opening is looked for


def parse_days(text: str) -> frozenset[int]:
    """`mon-thu`, `sat,sun`, `fri-mon` (across the week's end), `mon-fri,sun`, `all`:
    weekday numbers (Monday 0)."""
    cleaned = text.strip().lower()
    if cleaned in ("all", "every day", "daily"):
        return frozenset(range(7))
    found: set[int] = set()
    for part in cleaned.split(","):
        ends = [p.strip() for p in part.split("-")]
        if len(ends) > 2 or any(e not in DAYS for e in ends):
            raise ValueError(f"{text!r} is not a day range like mon-thu or sat,sun")
        first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
        found.update((first + i) % 7 for i in range((last - first) % 7 + 1))
    return frozenset(found)


def parse_between(text: str) -> tuple[time, time, bool]:
    """`09:00-16:00` -> (start, end, crosses midnight); `22:00-02:00` crosses it;
    `00:00-24:00` is the whole day."""
    parts = text.strip().split("-")
    if len(parts) != 2:
        raise ValueError(f"{text!r} is not a time range like 09:00-16:00")
    start, end = (_clock(p.strip(), text) for p in parts)
    whole_day = end == time(0) and parts[1].strip() == "24:00"
    if start == end and not whole_day:
        raise ValueError(f"{text!r} starts and ends at the same time")
    return start, end, not whole_day and end <= start


def _clock(text: str, whole: str) -> time:
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2
            and len(hours) in (1, 2)):
        raise ValueError(f"{whole!r}: {text!r} is not a time like 09:00")
    h, m = int(hours), int(minutes)
    if (h, m) == (24, 0):
        return time(0)
    if h > 23 or m > 59:
        raise ValueError(f"{whole!r}: {text!r} is not a time of day")
    return time(h, m)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone like Europe/Berlin or UTC") \
            from None


def parse_local(text: str) -> datetime:
    """`2026-12-19T18:00` or `2026-12-19T18:00:30` (a wall-clock time, its zone given
    beside it)."""
    for layout in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text.strip(), layout)
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a local time like 2026-12-19T18:00")


@dataclass(frozen=True, slots=True)
class WindowState:
    """Whether traffic may move now; when closed, why and when it next opens (None:
    not known, or not within the horizon). `unreadable`: closed because something the
    window depends on (a change calendar) could not be read — never taken as open."""

    closed_because: str | None
    opens: datetime | None = None
    unreadable: bool = False

    @property
    def is_open(self) -> bool:
        return self.closed_because is None


@dataclass(frozen=True, slots=True)
class Allow:
    days: frozenset[int]
    start: time
    end: time
    crosses: bool
    tz: ZoneInfo
    text: str

    def spans(self, around: datetime) -> Iterable[tuple[datetime, datetime]]:
        """The openings that could contain `around` or follow it: those starting on the
        day before (crossing midnight) through the horizon."""
        local = around.astimezone(self.tz).date()
        for offset in range(-1, HORIZON_DAYS):
            day = local + timedelta(days=offset)
            if day.weekday() in self.days:
                yield self._span(day)

    def _span(self, day: date) -> tuple[datetime, datetime]:
        start = datetime.combine(day, self.start, self.tz)
        end_day = day + timedelta(days=1) if self.crosses or self.end == time(0) else day
        return start, datetime.combine(end_day, self.end, self.tz)


@dataclass(frozen=True, slots=True)
class Deny:
    start: datetime
    end: datetime
    reason: str


class Schedule:
    """A plan's windows: open when inside an allow entry (if there are any) and
    outside every deny entry."""

    def __init__(self, allow: Sequence[Allow], deny: Sequence[Deny]) -> None:
        self.allow = list(allow)
        self.deny = list(deny)

    def closed_because(self, at: datetime) -> str | None:
        """None when traffic may move at `at`; else why not."""
        for entry in self.deny:
            if entry.start <= at < entry.end:
                return (f"{entry.reason} (until {_shown(entry.end)})" if entry.reason
                        else f"denied until {_shown(entry.end)}")
        if self.allow and not any(start <= at < end for entry in self.allow
                                  for start, end in _near(entry, at)):
            return "outside the allowed windows (" + "; ".join(
                a.text for a in self.allow) + ")"
        return None

    def state(self, at: datetime) -> WindowState:
        why = self.closed_because(at)
        return WindowState(why, self.next_opening(at) if why is not None else None)

    def next_opening(self, at: datetime) -> datetime | None:
        """The first moment from `at` on when the windows are open (`at` itself when
        they are); None when they stay closed for the next HORIZON_DAYS."""
        if self.closed_because(at) is None:
            return at
        limit = at + timedelta(days=HORIZON_DAYS)
        for moment in sorted(self._boundaries(at, limit)):
            if self.closed_because(moment) is None:
                return moment
        return None

    def next_closing(self, at: datetime) -> datetime | None:
        """When an open window next closes (None: not within the horizon)."""
        limit = at + timedelta(days=HORIZON_DAYS)
        for moment in sorted(self._boundaries(at, limit)):
            if self.closed_because(moment) is not None:
                return moment
        return None

    def closed_spans(self, start: datetime, end: datetime
                     ) -> list[tuple[datetime, datetime, str, datetime | None]]:
        """Every closed stretch between `start` and `end` as (from, to, why, opens):
        `opens` is where the closed run it belongs to ends — the next opening, None when
        it stays closed to `end`. What the Step Functions engine carries instead of the
        arithmetic."""
        end = end.astimezone(UTC)
        moments = sorted({start.astimezone(UTC)} | self._boundaries(start, end))
        spans: list[tuple[datetime, datetime, str]] = []
        for first, last in zip(moments, [*moments[1:], end], strict=True):
            why = self.closed_because(first)
            if why is not None and first < last:
                spans.append((first, last, why))
        found: list[tuple[datetime, datetime, str, datetime | None]] = []
        after: tuple[datetime, datetime | None] | None = None  # the next span: from, opens
        for first, last, why in reversed(spans):
            if after is not None and after[0] == last:
                opens = after[1]  # closed on without a gap
            else:
                opens = None if last >= end else last
            found.append((first, last, why, opens))
            after = (first, opens)
        return list(reversed(found))

    def _boundaries(self, at: datetime, limit: datetime) -> set[datetime]:
        found = {m for entry in self.deny for m in (entry.start, entry.end) if at < m <= limit}
        for entry in self.allow:
            for start, end in entry.spans(at):
                if start > limit:
                    break
                found |= {m for m in (start, end) if at < m <= limit}
        return {m.astimezone(UTC) for m in found}


def _near(entry: Allow, at: datetime) -> list[tuple[datetime, datetime]]:
    local = at.astimezone(entry.tz).date()
    return [entry._span(day) for day in (local - timedelta(days=1), local)
            if day.weekday() in entry.days]


def _shown(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z" if moment.second else "%Y-%m-%d %H:%M %Z")


def scheduled_shifts(steps: Sequence[tuple[float, str, bool]], schedule: Schedule,
                     start: datetime) -> list[tuple[str, datetime | None]]:
    """When each step of a release started at `start` would run: (label, when) for
    `steps` given as (offset from the start without windows, label, is a shift). A
    shift waits for the windows to open; bakes go on while they are closed (the run
    holds at its weight, watching its checks), so a wait pushes every later step.
    None: the windows stay closed within the horizon."""
    delay = timedelta(0)
    rows: list[tuple[str, datetime | None]] = []
    for offset, label, is_shift in steps:
        at = start + timedelta(seconds=offset) + delay
        if is_shift:
            opening = schedule.next_opening(at)
            if opening is None:
                rows.append((label, None))
                rows += [(later, None) for _, later, _ in steps[len(rows):]]
                return rows
            delay += opening - at
            at = opening
        rows.append((label, at))
    return rows


def describe(spec_allow: Sequence[str], spec_deny: Sequence[str], calendars: Sequence[str],
             outside: str) -> list[str]:
    """The windows as `plan` shows them."""
    lines = [f"  allow  {text}" for text in spec_allow] or ["  allow  always"]
    lines += [f"  deny   {text}" for text in spec_deny]
    lines += [f"  change calendars (read at run time): {', '.join(calendars)}"] \
        if calendars else []
    lines.append(f"  outside them: {outside}")
    return lines
