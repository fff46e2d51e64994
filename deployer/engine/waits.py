"""Waiting with checks: bakes, approval waits and the final bake poll the checks every
`poll_every`, read traffic back now and then, and apply analysis' on_inconclusive at
the end of a bake. Owned by the controller, which says what comes next (`then`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from deployer.core.ports import Check, Clock, Notifier, Observer, TrafficTarget
from deployer.core.record import Outcome, Phase, RunRecord
from deployer.engine.journal import RunJournal
from deployer.errors import CheckFailed, Drift
from deployer.plan.durations import format_duration
from deployer.plan.model import EXTEND_FACTOR, OnInconclusive
from strategies.steps import FULL, OnTimeout

DRIFT_READ_EVERY = 6      # polls between traffic read-backs during a wait (and at its end)
WEIGHT_TOLERANCE = 0.01   # percent
ANALYSIS_GATE = "analysis"  # record.stage prefix of an approval asked for by analysis


class Waits:
    def __init__(self, journal: RunJournal, clock: Clock, poll_every: float,
                 on_inconclusive: OnInconclusive, check: Check, target: TrafficTarget,
                 observer: Observer, notifier: Notifier,
                 begin_rollback: Callable[[str, Outcome], None]) -> None:
        self.journal = journal
        self.clock = clock
        self.poll_every = poll_every
        self.on_inconclusive = on_inconclusive
        self.check = check
        self.target = target
        self.observer = observer
        self.notifier = notifier
        self.begin_rollback = begin_rollback
        self.polls = 0
        self.last_check: float | None = None
        # Polls between full traffic reads during a wait. A whole application reads
        # every target in a sweep, so its sweeps are spaced by its size (one GetAlias
        # or DescribeListeners per target each); between them, every write is checked
        # where it is made (Lambda: RevisionId; ECS: the weights read before writing).
        self.drift_every = DRIFT_READ_EVERY
        self.read_before_shift = True
        self.next_is_shift = False  # set by the controller for the bake it is in
        self._extension_announced: float | None = None  # the wait whose extension was said

    @property
    def record(self) -> RunRecord:
        return self.journal.record

    def await_approval(self, timeout: float, on_timeout: OnTimeout,
                        then: Callable[[], None], actions: tuple[str, ...] = ("approve",
                                                                               "promote")
                        ) -> float:
        for action in actions:  # promote during an approval approves it
            request = self.record.pending(action)
            if request is not None:
                self.journal.handled(action, f"approved by {request.get('by') or 'an operator'}"
                                     + (f": {request['reason']}" if request.get("reason")
                                        else ""))
                then()
                return 0.0
        delay = self.wait(timeout, "approval wait")
        if delay is not None:
            return delay
        if on_timeout == OnTimeout.PROMOTE:
            self.journal.event(f"approval timed out after {format_duration(timeout)}: "
                               "promoting (on_timeout: promote)")
            then()
            return 0.0
        self.begin_rollback(f"approval timed out after {format_duration(timeout)}",
                             Outcome.ROLLED_BACK)
        return 0.0

    def bake(self, seconds: float, label: str, then: Callable[[], None]) -> float:
        """Wait out a bake with checks; at its end an inconclusive analysis is handled
        by on_inconclusive (SPEC §7) before `then` goes on."""
        extending = self.extending(seconds)
        if extending and self._extension_announced != self.record.wait_started:
            self._extension_announced = self.record.wait_started
            self.journal.event(f"{label} extended: analysis inconclusive "
                               f"({self.record.inconclusive}); baking up to "
                               f"{format_duration(EXTEND_FACTOR * seconds)}")
        delay = self.wait(EXTEND_FACTOR * seconds if extending else seconds, label)
        if delay is not None:
            return delay
        why = self.record.inconclusive
        policy = self.on_inconclusive
        if why is None or seconds <= 0 or policy == OnInconclusive.PROMOTE:
            if why is not None and seconds > 0:
                self.journal.event(f"analysis inconclusive at the end of the {label}: going on "
                                   f"(on_inconclusive: promote): {why}")
            then()
            return 0.0
        if policy == OnInconclusive.EXTEND and not extending:
            return self.poll_every  # the next tick is past the end: extending
        if policy == OnInconclusive.APPROVE:
            self.open_analysis_gate(label, why)
            return 0.0
        extended = f" after {format_duration(EXTEND_FACTOR * seconds)}" if extending else ""
        raise CheckFailed(f"analysis: inconclusive at the end of the {label}{extended}: {why}")

    def extending(self, seconds: float) -> bool:
        record = self.record
        return (self.on_inconclusive == OnInconclusive.EXTEND and seconds > 0
                and record.inconclusive is not None and record.wait_started is not None
                and self.clock.now() - record.wait_started >= seconds)

    def open_analysis_gate(self, label: str, why: str) -> None:
        after = "final_bake" if self.record.phase == Phase.PROMOTING else "step"
        self.record.wait_started = None
        self.journal.move(Phase.AWAITING_APPROVAL, stage=f"{ANALYSIS_GATE}:{after}")
        self.journal.event(f"waiting for approval: analysis inconclusive at the end of the "
                           f"{label} ({why}); deployer approve {self.record.run_id} to go on, "
                           f"deployer abort {self.record.run_id} to roll back")
        self.notifier.publish("approval_requested", self.record)

    @property
    def read_at_end(self) -> bool:
        """Read traffic back at the end of this wait: always, except before a shift of a
        whole application, whose writes are checked where they are made."""
        return self.read_before_shift or not self.next_is_shift

    def wait(self, seconds: float, label: str) -> float | None:
        """Poll checks until `seconds` have passed; None when done, else the next delay."""
        if seconds <= 0:
            return None
        now = self.clock.now()
        if self.record.wait_started is None:
            self.record.wait_started = now
            self.polls = 0
            self.journal.save()
            self.journal.event(f"{label} started")
        elapsed = now - self.record.wait_started
        finished = elapsed >= seconds
        # A poll that ran less than one interval ago (the end of the previous bake, a
        # moment before this shift) still stands; evaluating again would only cost calls.
        if finished or self.last_check is None or \
                now - self.last_check >= self.poll_every:
            self.watch(now, read_back=finished and self.read_at_end)
        if finished:
            return None
        remaining = seconds - elapsed
        self.observer.tick(self.record, remaining)
        self.journal.renew_if_due()
        return min(self.poll_every, remaining)

    def watch(self, now: float, *, read_back: bool = False) -> None:
        """One poll of a wait: the checks, and traffic read back every `drift_every`
        polls (or now, with `read_back`)."""
        self.evaluate_checks(now)
        self.polls += 1
        if read_back or self.polls % self.drift_every == 0:
            self.check_drift()

    def evaluate_checks(self, now: float) -> None:
        at_full = (self.record.weight or 0.0) >= FULL  # stable serves nothing: max only
        result = self.check.evaluate(at_full=at_full)
        self.last_check = now
        self.record.alarms = result.states
        if result.analysis is not None:
            self.note_analysis(result.analysis, result.inconclusive)
        if not result.healthy:
            raise CheckFailed(result.reason or "a check failed")

    def note_analysis(self, analysis: dict[str, Any], inconclusive: str | None) -> None:
        """Keep the latest verdicts; an event only when one changes (for the report)."""
        record = self.record
        verdicts = flat_verdicts(analysis)
        changed = verdicts != flat_verdicts(record.analysis)
        record.analysis, record.inconclusive = analysis, inconclusive
        if changed:
            self.journal.event("analysis: " + ", ".join(f"{m} {v}" for m, v in verdicts.items())
                               + (f" ({inconclusive})" if inconclusive else ""),
                               analysis=verdicts)

    def check_drift(self) -> None:
        reading = self.target.read()
        expected = self.record.weight if self.record.weight is not None else 0.0
        if not same_weight(reading.new_weight, expected):
            self.journal.take_requests()
            if self.record.pending("abort"):
                return  # an emergency rollback got there first; the next tick aborts
            raise Drift(f"drift: traffic now reads {reading.detail}; deployer last set "
                        f"{expected:g}% on the new version. "
                        "Someone else changed it; deployer left it alone")


def same_weight(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and math.isclose(a, b, abs_tol=WEIGHT_TOLERANCE)


def flat_verdicts(analysis: dict[str, Any]) -> dict[str, str]:
    """metric -> verdict; for a whole application `target.metric` -> verdict."""
    flat: dict[str, str] = {}
    for key, entry in analysis.items():
        if "verdict" in entry:
            flat[key] = str(entry["verdict"])
        else:
            flat.update({f"{key}.{metric}": str(e.get("verdict")) for metric, e in entry.items()})
    return flat
