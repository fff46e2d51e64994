"""The rollout state machine: one tick at a time, the run record as its only memory.

`advance()` does one tick: take operator requests from the store, stop for a
signal, an abort or the deadline, then act on the current phase and persist.
`run()` is `while not terminal: advance(); sleep(what advance asked for)`.
Anything a tick learns is saved before the next one, so a resumed controller
continues from the record plus what AWS reports (SPEC §5, §6).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from deployer.core.ports import (
    Check,
    Clock,
    Hook,
    Notifier,
    Observer,
    Store,
    TrafficTarget,
    Window,
)
from deployer.core.record import EXIT_CODES, Outcome, Phase, RunRecord
from deployer.core.signals import StopSignal
from deployer.engine.fleet import Fleet, new_versions
from deployer.engine.hook_runner import HookRunner
from deployer.engine.journal import LeaseLost, RunJournal
from deployer.engine.locks import holder_hint, release_locks, take_locks
from deployer.engine.takeover import reconcile
from deployer.engine.waits import ANALYSIS_GATE, DRIFT_READ_EVERY, Waits
from deployer.engine.window_gate import WindowGate
from deployer.errors import (
    CheckFailed,
    DeployerError,
    Drift,
    ExitCode,
    PreflightError,
)
from deployer.logs import get_logger
from deployer.plan.durations import format_duration
from deployer.plan.model import ApproveSpec, OnInconclusive, ReleasePlan
from strategies.steps import FULL, Approve, Bake, Shift, Step

LEASE_MIN_SECONDS = 60.0  # real seconds a controller's lease lasts without renewal
FLEET_SWEEP_PER = 10      # an application's drift sweeps are spaced by each 10 targets


@dataclass(frozen=True, slots=True)
class Timings:
    poll_every: float
    final_bake: float
    keep_old_for: float
    on_inconclusive: OnInconclusive = OnInconclusive.EXTEND
    refuse_outside: bool = False     # windows.outside: refuse (a closed start is refused)

    @classmethod
    def of(cls, plan: ReleasePlan) -> Timings:
        return cls(plan.checks.poll_every, plan.final_bake, plan.keep_old_for,
                   plan.checks.on_inconclusive,
                   plan.refuses_outside_window)


@dataclass(slots=True)
class Parts:
    target: TrafficTarget
    check: Check
    before_traffic: Sequence[Hook]
    after_traffic: Sequence[Hook]
    store: Store
    clock: Clock
    notifier: Notifier
    observer: Observer
    window: Window | None = None  # SPEC §14: when shifts may happen (None: always)


class Controller:
    def __init__(self, record: RunRecord, steps: Sequence[Step], timings: Timings,
                 parts: Parts, stop: StopSignal) -> None:
        self.steps = tuple(steps)
        self.timings = timings
        self.parts = parts
        self.target = parts.target
        self.clock = parts.clock
        self.store = parts.store
        self.stop = stop
        self.log = get_logger(run_id=record.run_id)
        lease = max(LEASE_MIN_SECONDS, 3 * timings.poll_every / parts.clock.time_scale)
        self.journal = RunJournal(record, parts.store, parts.clock, parts.observer, lease)
        self._hook_index = 0
        self._hooks_running = HookRunner(stop.wake)
        self.waits = Waits(self.journal, self.clock, timings.poll_every,
                           timings.on_inconclusive, parts.check, parts.target, parts.observer,
                           parts.notifier, self._begin_rollback)
        self.window = WindowGate(parts.window, timings.refuse_outside, self.journal,
                                 self.clock, self.waits, timings.poll_every)
        if isinstance(parts.target, Fleet):
            self.waits.drift_every = DRIFT_READ_EVERY * max(1, math.ceil(
                len(parts.target.legs) / FLEET_SWEEP_PER))
            self.waits.read_before_shift = False

    @property
    def record(self) -> RunRecord:
        return self.journal.record

    # ------------------------------------------------------------ loop

    def resume(self, by: str) -> RunRecord:
        """Take over a run (see take_over) and drive it to a terminal outcome."""
        try:
            self.take_over(by)
        except Drift as exc:
            self._finish(Outcome.FAILED, Phase.FAILED, exc.message, ExitCode.UNSAFE)
            return self.record
        return self.run()

    def run(self) -> RunRecord:
        try:
            while not self.record.terminal:
                delay = self.advance()
                if delay > 0 and not self.record.terminal:
                    self.clock.sleep(delay, self.stop.wake)
                    if not self.stop.requested:
                        self.stop.wake.clear()
        finally:
            self._hooks_running.close()
            self.parts.observer.close()
            if isinstance(self.target, Fleet):
                self.target.close()
        return self.record

    def advance(self) -> float:
        """One tick; returns the plan seconds to sleep before the next."""
        if self.record.terminal:
            return 0.0
        try:
            return self._tick()
        except LeaseLost as exc:
            # Another controller took this run over (resume --force): stop at once,
            # touching neither traffic nor the record it now owns.
            self.log.warning("lease_lost", error=exc.message)
            self.record.phase = Phase.FAILED
            self.record.outcome = Outcome.FAILED
            self.record.exit_code = int(ExitCode.UNEXPECTED)
            self.record.reason = exc.message
            return 0.0

    def _tick(self) -> float:
        try:
            self.journal.take_requests()
            if self.record.phase != Phase.ROLLING_BACK:
                interruption = self._interruption()
                if interruption is not None:
                    self._begin_rollback(*interruption)
                    return 0.0
            return self._act()
        except Drift as exc:
            self._finish(Outcome.FAILED, Phase.FAILED, exc.message + self._restore_the_rest(),
                         ExitCode.UNSAFE)
        except CheckFailed as exc:
            self._on_error(exc.message, Outcome.ROLLED_BACK)
        except PreflightError as exc:
            self.record.hint = exc.hint
            self._on_error(exc.message, Outcome.REFUSED)
        except DeployerError as exc:  # AWS unreachable or failing after retries, store errors
            self._on_error(exc.message, Outcome.FAILED)
        except Exception as exc:  # a bug must still leave traffic whole
            self.log.exception("controller_error")
            self._on_error(f"unexpected error: {type(exc).__name__}: {exc}", Outcome.FAILED)
        return 0.0

    def _restore_the_rest(self) -> str:
        """Drift on one target of an application: that one is left alone (never fight
        someone else's change), every other target that had traffic is rolled back."""
        if not isinstance(self.target, Fleet) or self.record.phase in (Phase.PENDING,
                                                                       Phase.ROLLING_BACK):
            return ""
        try:
            drifted = self.target.drifted(self.record.weight or 0.0)
            reading = self.target.rollback(skip=drifted)
        except DeployerError as exc:
            return f"; rolling back the other targets failed too: {exc.message}"
        self.record.target = self.target.describe()
        self.journal.event(f"every other target rolled back: {reading.detail}")
        return (f"; {', '.join(sorted(drifted))} left alone, every other target rolled back"
                if drifted else "; every target rolled back")

    def _on_error(self, message: str, outcome: Outcome) -> None:
        if self.record.phase == Phase.ROLLING_BACK:
            self._finish(Outcome.FAILED, Phase.FAILED,
                         f"rollback failed: {message}; traffic may still be split "
                         f"({self._where_traffic_is()})", ExitCode.UNSAFE)
        elif self.record.phase == Phase.PENDING:  # nothing was changed yet
            outcome = Outcome.REFUSED if outcome == Outcome.REFUSED else Outcome.FAILED
            self._finish(outcome, Phase.FAILED, message, EXIT_CODES[outcome])
        else:
            self._begin_rollback(message, outcome)

    def _act(self) -> float:
        phase = self.record.phase
        if phase == Phase.PENDING:
            return self._start()
        if phase == Phase.PREPARING:
            return self._prepare()
        if phase == Phase.AWAITING_APPROVAL and (self.record.stage or "").startswith(
                ANALYSIS_GATE):
            return self._analysis_gate()
        if phase == Phase.WAITING_WINDOW:
            return self.window.hold()
        if phase in (Phase.SHIFTING, Phase.BAKING, Phase.AWAITING_APPROVAL):
            return self._step()
        if phase == Phase.PROMOTING:
            return self._promote()
        return self._rollback()

    def take_over(self, by: str) -> None:
        """Continue a run whose controller died: reconcile the record with what AWS
        reports (never with memory), note the takeover, and go on from the phase."""
        previous = (self.record.lease or {}).get("owner", "unknown")
        lease = "was still live" if self.journal.lease_live() else "had expired"
        self.journal.claim()
        record = self.record
        self.journal.event(f"taken over by {by} from {previous} (its lease {lease})")
        if record.phase == Phase.PENDING:
            return  # nothing was changed yet: start from preflight
        reading = reconcile(record, self.target)
        self.journal.event(f"resuming in {record.phase.value}: traffic reads {reading.detail}")

    # ------------------------------------------------------------ phases

    def _start(self) -> float:
        """Take the target's lock and run preflight; nothing changes in AWS here."""
        record = self.record
        refusal = take_locks(self.store, record.locks, record.run_id,
                             self.clock.wall().timestamp() + self.journal.lease_seconds)
        if refusal is not None:
            key, holder = refusal
            self._finish(Outcome.REFUSED, Phase.FAILED, f"run {holder} holds {key}",
                         ExitCode.REFUSED, hint=holder_hint(self.store, holder))
            return 0.0
        self.target.preflight(resuming=False)
        self.window.check_at_start()
        started = self.parts.check.start()
        record.alarms = started.states
        record.muted_alarms = list(started.muted)
        record.target = self.target.describe()
        if self.target.already_done():
            self._finish(Outcome.SUCCEEDED, Phase.SUCCEEDED,
                         f"all traffic is already on version {record.target.get('new_version')}"
                         ": nothing to do", ExitCode.SUCCEEDED)
            return 0.0
        self.journal.move(Phase.PREPARING, stage="prepare")
        self.journal.event("run started")
        blind = sorted(n for n, state in record.alarms.items() if state == "INSUFFICIENT_DATA")
        if blind:  # the CodeDeploy complaint: alarms with no data that protect nothing
            self.journal.event(f"warning: alarm {', '.join(blind)} has INSUFFICIENT_DATA and "
                               "protects nothing until it gets data (checks.insufficient_data:"
                               " fail makes that a failure)")
        self.parts.notifier.publish("started", self.record)
        return 0.0

    def _prepare(self) -> float:
        if self.record.stage == "prepare":
            self.target.prepare()
            self.record.target = self.target.describe()
            if self.target.already_done():  # e.g. publishing $LATEST gave the stable version
                self._finish(Outcome.SUCCEEDED, Phase.SUCCEEDED,
                             f"all traffic is already on version "
                             f"{self.record.target.get('new_version')}: nothing to do",
                             ExitCode.SUCCEEDED)
                return 0.0
            self.journal.event(f"new version ready: {new_versions(self.record.target)}")
            self.journal.move(Phase.PREPARING, stage="before_traffic")
            return 0.0
        return self._hooks(self.parts.before_traffic, "before_traffic",
                           then=lambda: self._enter_step(0), watch_checks=False)

    def _enter_step(self, index: int) -> None:
        self.record.step_index = index
        self.record.wait_started = None
        self.waits.polls = 0
        if index >= len(self.steps):
            self._hook_index = 0
            self.journal.move(Phase.PROMOTING, stage="after_traffic")
            return
        step = self.steps[index]
        phase = {Shift: Phase.SHIFTING, Bake: Phase.BAKING,
                 Approve: Phase.AWAITING_APPROVAL}[type(step)]
        self.journal.move(phase)
        if isinstance(step, Approve):
            self.journal.event(f"waiting for approval (timeout {format_duration(step.timeout)}): "
                        f"deployer approve {self.record.run_id}")
            self.parts.notifier.publish("approval_requested", self.record)

    def _step(self) -> float:
        self.waits.next_is_shift = False
        if self.record.pending("promote_full"):
            self.journal.handled("promote_full", "promoting to 100% now (promote --full)")
            if self.record.weight != FULL:
                self._shift(FULL)
            self._enter_step(len(self.steps))
            return 0.0
        index = self.record.step_index
        step = self.steps[index]
        if isinstance(step, Shift):
            held = self.window.before_shift()
            if held is not None:
                return held
            self._shift(step.weight)
            self._enter_step(index + 1)
            return 0.0
        if isinstance(step, Bake):
            if self.record.pending("promote"):
                self.journal.handled("promote", "bake skipped by operator")
                self._enter_step(index + 1)
                return 0.0
            self.waits.next_is_shift = index + 1 < len(self.steps) and \
                isinstance(self.steps[index + 1], Shift)
            return self.waits.bake(step.seconds, f"bake {format_duration(step.seconds)}",
                              then=lambda: self._enter_step(index + 1))
        return self.waits.await_approval(step.timeout, step.on_timeout,
                                    then=lambda: self._enter_step(index + 1))

    def _shift(self, weight: float) -> None:
        # Write-ahead: a controller that dies between this save and the read-back leaves
        # a record that says what may have landed, so a takeover can recognise it.
        self.record.requested_weight = weight
        self.journal.save()
        reading = self.target.shift(weight)
        self.record.weight = reading.new_weight
        self.record.target = self.target.describe()
        self.journal.event(f"shifted to {weight:g}% (read back: {reading.detail})")
        if weight >= FULL:
            self.parts.notifier.publish("promoted", self.record)

    def _promote(self) -> float:
        self.waits.next_is_shift = False
        stage = self.record.stage
        if stage == "after_traffic":
            return self._hooks(self.parts.after_traffic, "after_traffic",
                               then=lambda: self.journal.move(Phase.PROMOTING, stage="final_bake"),
                               watch_checks=True)
        if stage == "final_bake":
            return self._wait_then(self.timings.final_bake,
                                   f"final bake {format_duration(self.timings.final_bake)}",
                                   next_stage="next_wave", judged=True)
        if stage == "next_wave":
            if isinstance(self.target, Fleet) and self.target.next_wave():
                # The next wave starts from 0%; requested_weight stays set, so a rollback
                # from here restores the waves that already have all the traffic.
                self.record.weight = 0.0
                self.record.target = self.target.describe()
                self.journal.move(Phase.PREPARING, stage="prepare")
                self.journal.event(f"wave {self.target.wave + 1} of {len(self.target.waves)}: "
                                   + ", ".join(self.target.waves[self.target.wave]))
                return 0.0
            self.journal.move(Phase.PROMOTING, stage="keep_old")
            return 0.0
        if stage == "keep_old":
            return self._wait_then(self.timings.keep_old_for, "keeping the old version for "
                                   f"{format_duration(self.timings.keep_old_for)}",
                                   next_stage="retire")
        self.target.retire_old()
        self._finish(Outcome.SUCCEEDED, Phase.SUCCEEDED, None, ExitCode.SUCCEEDED)
        return 0.0

    # ------------------------------------------------------------ waiting with checks

    def _wait_then(self, seconds: float, label: str, next_stage: str,
                   judged: bool = False) -> float:
        def then() -> None:
            self.record.wait_started = None
            self.journal.move(Phase.PROMOTING, stage=next_stage)

        for action in ("promote", "promote_full"):
            if self.record.pending(action):
                self.journal.handled(action, f"{label} skipped by operator")
                then()
                return 0.0
        if judged:
            return self.waits.bake(seconds, label, then)
        delay = self.waits.wait(seconds, label)
        if delay is not None:
            return delay
        then()
        return 0.0

    # ------------------------------------------------------------ bakes judged by analysis

    def _analysis_gate(self) -> float:
        def then() -> None:
            self.record.wait_started = None
            if self.record.stage == f"{ANALYSIS_GATE}:final_bake":
                self.journal.move(Phase.PROMOTING, stage="next_wave")
            else:
                self._enter_step(self.record.step_index + 1)

        default = ApproveSpec()
        return self.waits.await_approval(default.timeout, default.on_timeout, then,
                                    actions=("approve", "promote", "promote_full"))

    # ------------------------------------------------------------ hooks

    def _hooks(self, hooks: Sequence[Hook], stage: str, then: Callable[[], None],
               watch_checks: bool) -> float:
        if not self._hooks_running.busy:
            if self._hook_index >= len(hooks):
                self._hook_index = 0
                then()
                return 0.0
            hook = hooks[self._hook_index]
            self._hooks_running.start(hook, self._hook_context(stage))
            self.journal.event(f"{stage} hook started: {hook.name}")
        done = self._hooks_running.finished()
        if done is None:
            if watch_checks:
                self.waits.evaluate_checks(self.clock.now())
            self.journal.renew_if_due()
            return self.timings.poll_every
        hook, result = done
        self.record.hooks.append({"stage": stage, "hook": hook.name,
                                  "succeeded": result.succeeded, "summary": result.summary,
                                  "output": result.output, "at": self.journal.now_iso()})
        if not result.succeeded:
            self._begin_rollback(f"{stage} hook {hook.name} failed: {result.summary}",
                                 Outcome.ROLLED_BACK)
            return 0.0
        self.journal.event(f"{stage} hook passed: {hook.name} ({result.summary})")
        self._hook_index += 1
        return 0.0

    def _hook_context(self, stage: str) -> dict[str, str]:
        weight = self.record.weight
        return {**self.target.hook_context(), "DEPLOYER_RUN_ID": self.record.run_id,
                "DEPLOYER_PLAN": self.record.plan_name, "DEPLOYER_STAGE": stage,
                "DEPLOYER_WEIGHT": f"{weight or 0:g}"}

    # ------------------------------------------------------------ stopping

    def _interruption(self) -> tuple[str, Outcome] | None:
        if self.stop.requested:
            return self.stop.reason or "aborted", Outcome.ABORTED
        abort = self.record.pending("abort")
        if abort is not None:
            self.journal.handled("abort", "abort taken")
            who = abort.get("by") or "an operator"
            why = f": {abort['reason']}" if abort.get("reason") else ""
            return f"aborted by {who}{why}", Outcome.ABORTED
        deadline = self.record.deadline_at
        # The deadline covers reaching 100% and passing the final bake; a release that
        # did both has succeeded, and only its alarms may still undo it in keep-old.
        if deadline is not None and not self._final_bake_passed() and \
                self.clock.now() >= deadline:
            return "deadline passed before the run finished", Outcome.ROLLED_BACK
        return None

    def _final_bake_passed(self) -> bool:
        return self.record.phase == Phase.PROMOTING and self.record.stage in ("keep_old",
                                                                              "retire")

    def _begin_rollback(self, reason: str, outcome: Outcome) -> None:
        if self.record.phase == Phase.PENDING:  # stopped before preflight: nothing changed
            phase = Phase.ABORTED if outcome == Outcome.ABORTED else Phase.FAILED
            self._finish(outcome, phase, reason, EXIT_CODES[outcome])
            return
        self._hooks_running.cancel()
        self.record.reason = reason
        self.record.wait_started = None
        self.journal.move(Phase.ROLLING_BACK, stage=outcome.value)
        self.journal.event(f"rolling back: {reason}")

    def _rollback(self) -> float:
        if self.record.requested_weight is None:
            reading = self.target.read()  # this run never moved traffic
            if reading.new_weight != 0:
                reading = self.target.rollback()
        else:
            reading = self.target.rollback()
        self.record.weight = reading.new_weight
        self.record.target = self.target.describe()
        self.journal.event(f"traffic restored: {reading.detail}")
        try:
            self.target.discard_new()
        except DeployerError as exc:  # production traffic is whole: say so, don't fail
            self.log.warning("discard_new_failed", error=exc.message)
            self.journal.event(f"warning: cleaning up after the new version failed: "
                               f"{exc.message}")
        outcome = Outcome(self.record.stage or Outcome.ROLLED_BACK.value)
        phase = {Outcome.ABORTED: Phase.ABORTED, Outcome.FAILED: Phase.FAILED,
                 Outcome.REFUSED: Phase.FAILED}.get(outcome, Phase.ROLLED_BACK)
        self._finish(outcome, phase, self.record.reason, EXIT_CODES[outcome])
        return 0.0

    def _finish(self, outcome: Outcome, phase: Phase, reason: str | None,
                exit_code: ExitCode, hint: str | None = None) -> None:
        record = self.record
        if hint:
            record.hint = hint
        record.outcome = outcome
        record.exit_code = int(exit_code)
        record.reason = reason
        record.ended_at = self.journal.now_iso()
        record.stage = None
        record.wait_started = None
        self.journal.move(phase)
        self.journal.event(f"run {outcome.value}" + (f": {reason}" if reason else ""))
        release_locks(self.store, record.locks, record.run_id)
        self.parts.notifier.publish(outcome.value, record)

    def _where_traffic_is(self) -> str:
        try:
            return self.target.read().detail
        except DeployerError as exc:
            return f"unreadable: {exc.message}"
