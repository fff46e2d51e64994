"""The worst case of a plan's execution history: events (AWS keeps at most 25,000 per
execution) and state transitions (what a standard workflow costs).

Worst case means every bake polled to its end, every approval answered at its
timeout, every IN_PROGRESS hook re-invoked until its timeout, and a rollback at the
very end. The counts follow the definition `compiler.py` writes: a Task state logs 5
events (entered, scheduled, started, succeeded, exited), a Pass, Choice or Wait 2, a
Map or Parallel 4 plus 2 per iteration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from deployer.plan.model import EXTEND_FACTOR, AlreadyFiring, OnInconclusive, ReleasePlan
from deployer.stepfunctions.compiler import HOOK_RETRY_DELAY
from deployer.stepfunctions.table import Entry, build_table

HISTORY_LIMIT = 25_000
PRICE_PER_TRANSITION = 0.000025  # USD, standard workflows (us-east-1, 2026 price list)
LONGEST_POLL = 3600.0


@dataclass(frozen=True, slots=True)
class Tally:
    events: int = 0
    transitions: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.events + other.events, self.transitions + other.transitions)

    def __mul__(self, times: int) -> Tally:
        return Tally(self.events * times, self.transitions * times)

    @property
    def cost(self) -> float:
        return self.transitions * PRICE_PER_TRANSITION


TASK = Tally(5, 1)
STEP = Tally(2, 1)        # Pass, Choice, Wait, Succeed
GROUP = Tally(4, 1)       # Map or Parallel, around its iterations
ITERATION = Tally(2, 0)
LEG = TASK * 3 + STEP * 8  # write, read back, (discard); route, kind, compare, verify...
POLL = TASK * 2 + STEP * 4  # wait, describeAlarms, seen, requests, judge, tick
ENTRY = TASK + STEP * 4     # load, gatekeeper, enter (a record update), dispatch, advance


def worst_case(plan: ReleasePlan, poll_every: float | None = None) -> Tally:
    poll = poll_every if poll_every is not None else plan.checks.poll_every
    entries = build_table(plan, poll)
    sizes = [len(w) for w in plan.wave_names]
    total = TASK + STEP + Tally(2, 0)  # Plan, Started, execution started / ended
    if plan.notify.sns_topic:  # started, approval requested (each gate), the outcome
        gates = sum(1 for e in entries if e.kind == "approve")
        total = total + (TASK + STEP) * (2 + gates)
    for entry in entries:
        total = total + ENTRY + _entry(entry, plan, sizes[entry.wave], sum(sizes), poll)
        if entry.kind == "shift" and plan.windows is not None:
            total = total + _window_ask(plan) + WINDOW_HOLD
    if plan.roles:  # each leg's program picks its account
        total = total + STEP * _leg_runs(entries, sizes)
    if _muting(plan):  # each alarm is unmuted once, at most: one record update each
        total = total + (TASK + STEP) * len(plan.all_alarms)
    # A promote --full adds one shift; a rollback at the very end restores every target
    # (with its test route and provisioned concurrency, where it has them).
    total = total + _legs(max(sizes)) * 2 + TASK * 2 + STEP * 3
    return total + TASK * 3 + STEP * 2 + _legs(sum(sizes)) + UNDO_EXTRA * sum(sizes)


# What undoing a target may add to LEG: its test route written back, read back and
# compared, the discard chosen, provisioned concurrency deleted.
UNDO_EXTRA = TASK * 3 + STEP * 3


# Entering and leaving a window's hold (record, held, go on, left) and an override.
WINDOW_HOLD = (TASK + STEP) * 3


def _window_ask(plan: ReleasePlan) -> Tally:
    """Asking the window before a shift: the calendars (a Task) or a Pass, the judge,
    the Choice."""
    calendars = plan.windows is not None and bool(plan.windows.change_calendars)
    return (TASK if calendars else STEP) + STEP * 2


def hold_allowance(plan: ReleasePlan, poll_every: float | None = None) -> int:
    """How many polls a run may spend held by its windows (all holds together) within
    the history budget, after everything else's worst case (SPEC §14)."""
    left = HISTORY_LIMIT - worst_case(plan, poll_every).events
    per_poll = _poll(plan) + _window_ask(plan) + STEP * 2  # and the count, the tick
    return max(0, left // per_poll.events)


def _muting(plan: ReleasePlan) -> bool:
    return bool(plan.all_alarms) and plan.checks.already_firing is AlreadyFiring.IGNORE


def _poll(plan: ReleasePlan) -> Tally:
    """One poll; with muted alarms the judging is one state longer (the muting Choice),
    as it is with alarms in other accounts, each account's read one Task more;
    analysis adds its GetMetricData (which judges in its Output) and the record's note."""
    others = sum(1 for role in plan.roles if plan.alarms_read_as(role))
    poll = POLL + STEP if _muting(plan) or others else POLL
    poll = poll + TASK * others
    if plan.checks.metrics is None:
        return poll
    roles = len(plan.roles)
    # one GetMetricData per account, then (with others) a state that judges them all
    return poll + TASK * 2 + (TASK * roles + STEP if roles else Tally())


def _gate(plan: ReleasePlan, timeout: float, poll: float) -> Tally:
    """An approval gate: its Parallel, the token wait, the answer, and the alarm watch
    polling until the timeout."""
    watch = _poll(plan) * max(1, math.ceil(timeout / poll))
    return STEP * 3 + GROUP + ITERATION * 2 + TASK * 2 + STEP + watch


def _judged_end(entry: Entry, plan: ReleasePlan, poll: float) -> Tally:
    """What the end of a bake under analysis may add (SPEC §7's on_inconclusive): the
    Choice, then extend's further polls, approve's gate, or a decision and its event."""
    policy = plan.checks.on_inconclusive
    if policy is OnInconclusive.EXTEND:
        return STEP * 3 + TASK + _poll(plan) * (entry.polls * (EXTEND_FACTOR - 1)) + STEP
    if policy is OnInconclusive.APPROVE:
        return STEP + TASK + _gate(plan, entry.timeout, poll)
    return STEP + TASK + STEP


def _leg_runs(entries: list[Entry], sizes: list[int]) -> int:
    """How many times a target's program runs, at most: twice per shift and once per
    wave check and retire, and the rollback's and a promote --full's."""
    runs = sum(sizes[e.wave] * (2 if e.kind == "shift" else 1) for e in entries
               if e.kind in ("shift", "wave")) + sum(sizes) * 2
    return runs + max(sizes) * 2


def _legs(count: int) -> Tally:
    return GROUP + (ITERATION + LEG) * count


def _entry(entry: Entry, plan: ReleasePlan, legs: int, all_legs: int, poll: float) -> Tally:
    if entry.kind == "wave":
        return STEP + TASK + _legs(legs)
    if entry.kind == "shift":  # compare before write, write and read back, record
        return STEP * 3 + TASK + _legs(legs) * 2
    if entry.kind == "bake":
        end = _judged_end(entry, plan, poll) if entry.judged else Tally()
        return STEP + _poll(plan) * entry.polls + end
    if entry.kind == "approve":
        return _gate(plan, entry.timeout, poll)
    if entry.kind in ("before_traffic", "after_traffic"):
        total = Tally()
        for hook in getattr(plan.hooks, entry.kind):
            tries = max(1, int(hook.effective_timeout // HOOK_RETRY_DELAY))
            total = total + STEP + TASK + (TASK * 2 + STEP * 5) * tries
        return total
    if entry.kind == "retire":
        return GROUP + (ITERATION + TASK * 2 + STEP * 2) * all_legs
    return Tally()


def smallest_poll_that_fits(plan: ReleasePlan) -> float | None:
    """The smallest whole-second poll_every (≥ the plan's) whose worst case fits."""
    low = max(1, math.ceil(plan.checks.poll_every))
    if worst_case(plan, LONGEST_POLL).events > HISTORY_LIMIT:
        return None
    high = int(LONGEST_POLL)
    while low < high:  # fewer events with every longer poll: bisect
        middle = (low + high) // 2
        if worst_case(plan, middle).events > HISTORY_LIMIT:
            low = middle + 1
        else:
            high = middle
    return float(low)
