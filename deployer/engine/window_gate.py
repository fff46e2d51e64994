"""Deployment windows in a run (SPEC §14): asked before each shift, never before a
rollback. A closed window holds the run at its current weight in WAITING_WINDOW,
its checks still watched every poll, until the window opens; the record says why and
when (`record.window`) for `status`, the live view and the dashboard. A run started
with `--override-window`, or overridden later by `promote --override-window`
(record.window_override), is never held.

Windows are wall-clock time whatever --time-scale is; the delays returned are in the
run's (scaled) seconds.
"""

from __future__ import annotations

from datetime import datetime

from deployer.core.clock import iso
from deployer.core.ports import Clock, Window
from deployer.core.record import Phase
from deployer.engine.journal import RunJournal
from deployer.engine.waits import Waits
from deployer.errors import PreflightError
from deployer.plan.windows import WindowState

OPEN = WindowState(None)


class WindowGate:
    def __init__(self, window: Window | None, refuse_outside: bool, journal: RunJournal,
                 clock: Clock, waits: Waits, poll_every: float) -> None:
        self.window = window
        self.refuse_outside = refuse_outside
        self.journal = journal
        self.clock = clock
        self.waits = waits
        self.poll_every = poll_every

    def _state(self, wall: datetime) -> WindowState:
        record = self.journal.record
        request = record.pending("override_window")
        if request is not None:  # `promote --override-window` on a run under way
            who, why = request.get("by") or "an operator", request.get("reason")
            if not record.window_override:
                record.window_override = {"by": who, "reason": why, "at": request.get("at")}
            self.journal.handled("override_window", overridden(who, why))
        if self.window is None or record.window_override:
            return OPEN
        return self.window.state(wall)

    def check_at_start(self) -> None:
        """Preflight: a window that cannot be read refuses the run (exit 5, nothing
        changed); so does a closed one under `outside: refuse`."""
        override = self.journal.record.window_override
        if override:
            self.journal.event(overridden(override.get("by"), override.get("reason")))
            return
        refuse_at_start(self._state(self.clock.wall()), self.refuse_outside)

    def before_shift(self) -> float | None:
        """None when the next shift may go; else the run moves to WAITING_WINDOW and
        this is its first poll held (the delay before the next)."""
        wall = self.clock.wall()
        state = self._state(wall)
        if state.is_open:
            return None
        record = self.journal.record
        record.window = _shown(state)
        self.journal.move(Phase.WAITING_WINDOW, stage=f"window: {state.closed_because}")
        self.journal.event(
            f"holding at {record.weight or 0:g}%: the deployment window is closed "
            f"({state.closed_because}); {_opens(state, 'it opens ') or 'no opening known; '}"
            "checks are still watched")
        return self._held(state, wall)

    def hold(self) -> float:
        """One poll while held: go on when the window has opened, else hold on."""
        record = self.journal.record
        wall = self.clock.wall()
        state = self._state(wall)
        if state.is_open:
            record.window = None
            self.journal.move(Phase.SHIFTING, stage=None)
            self.journal.event("the deployment window is open: going on"
                               if not record.window_override else
                               "the deployment window is overridden: going on")
            return 0.0
        return self._held(state, wall)

    def _held(self, state: WindowState, wall: datetime) -> float:
        """Held by `state`: watch the checks (a failure rolls back at once), say when
        why or when changed, and wait until the opening or the next poll."""
        record = self.journal.record
        self.waits.watch(self.clock.now())  # a failure raises: rolled back at once
        shown = _shown(state)
        if shown != record.window:
            record.window = shown
            record.stage = f"window: {state.closed_because}"
            self.journal.event(f"the deployment window is still closed "
                               f"({state.closed_because}); "
                               f"{_opens(state, 'it opens ') or 'no opening known'}"
                               .rstrip("; "))
        # An opening already past while still closed (a calendar's stale transition):
        # look again at the next poll, never in a busy loop.
        until = (state.opens - wall).total_seconds() * self.clock.time_scale \
            if state.opens is not None and state.opens > wall else self.poll_every
        self.waits.observer.tick(record, max(0.0, until))
        self.journal.renew_if_due()
        return max(0.0, min(self.poll_every, until))


def overridden(by: object, reason: object) -> str:
    """The event of a break-glass override, as every engine writes it."""
    return f"deployment window overridden by {by}: {reason}"


def _shown(state: WindowState) -> dict[str, str | None]:
    return {"closed_because": state.closed_because,
            "opens": iso(state.opens) if state.opens is not None else None}


def _opens(state: WindowState, prefix: str) -> str:
    return f"{prefix}{iso(state.opens)}; " if state.opens is not None else ""


def refuse_at_start(state: WindowState, refuse_outside: bool) -> None:
    """Raise the refusal (PreflightError, exit 5) a run starting in `state` gets: an
    unreadable window always, a closed one under `outside: refuse`. Both engines."""
    if state.unreadable:
        raise PreflightError(
            str(state.closed_because),
            hint="check windows.change_calendars (names or ARNs, in the plan's region) "
                 "and ssm:GetCalendarState in the runner's policy (deployer iam-policy)")
    if refuse_outside and not state.is_open:
        raise PreflightError(
            f"the deployment window is closed ({state.closed_because})",
            hint=_opens(state, "it opens ") + "windows.outside: refuse (wait holds the "
                 "release instead; --override-window --reason TEXT releases anyway)")
