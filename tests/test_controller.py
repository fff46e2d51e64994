"""The state machine with fakes only: phase sequences, weight history, every way to stop."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from deployer.core.record import Outcome, Phase, RunRecord
from deployer.core.signals import StopSignal
from deployer.engine.controller import Controller, Parts, Timings
from deployer.errors import ExitCode
from deployer.plan.model import OnInconclusive
from deployer.plan.windows import WindowState
from strategies.all_at_once import plan_all_at_once
from strategies.blue_green import plan_blue_green
from strategies.canary import plan_canary
from strategies.linear import plan_linear
from strategies.steps import Approve, Bake, OnTimeout, Shift, Step
from tests.fakes import (
    EPOCH,
    FakeClock,
    FakeTarget,
    InMemoryStore,
    NullObserver,
    RecordingNotifier,
    ScriptedCheck,
    ScriptedHook,
)

POLL = 10.0


@dataclass
class Run:
    steps: Sequence[Step]
    final_bake: float = 0.0
    keep_old_for: float = 0.0
    deadline: float | None = None
    on_inconclusive: OnInconclusive = OnInconclusive.EXTEND
    before: list[ScriptedHook] = field(default_factory=list)
    after: list[ScriptedHook] = field(default_factory=list)
    clock: FakeClock = field(default_factory=FakeClock)
    target: FakeTarget = field(default_factory=FakeTarget)
    check: ScriptedCheck = field(default_factory=ScriptedCheck)
    store: InMemoryStore = field(default_factory=InMemoryStore)
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    stop: StopSignal = field(default_factory=StopSignal)
    record: RunRecord | None = None

    def __post_init__(self) -> None:
        self.record = RunRecord(run_id="app-1", plan_name="app", target_key="fake:app",
                                target={"kind": "fake"}, plan={}, started_at="t0")
        if self.deadline is not None:
            self.record.deadline_at = self.clock.now() + self.deadline
        self.store.create(self.record)
        parts = Parts(target=self.target, check=self.check, before_traffic=self.before,
                      after_traffic=self.after, store=self.store, clock=self.clock,
                      notifier=self.notifier, observer=NullObserver())
        self.controller = Controller(self.record, self.steps,
                                     Timings(POLL, self.final_bake, self.keep_old_for,
                                             self.on_inconclusive),
                                     parts, self.stop)

    def go(self) -> RunRecord:
        return self.controller.run()

    @property
    def stored(self) -> RunRecord:
        assert self.record is not None
        return self.store.load(self.record.run_id)

    def phases(self) -> list[str]:
        seen: list[str] = []
        for event in self.stored.events:
            if not seen or seen[-1] != event.phase:
                seen.append(event.phase)
        return seen


STRATEGIES = [
    ("canary", plan_canary(10, 300), [10, 100],
     ["PREPARING", "SHIFTING", "BAKING", "SHIFTING", "SUCCEEDED"]),
    ("linear", plan_linear(25, 60), [25, 50, 75, 100],
     ["PREPARING", "SHIFTING", "BAKING", "SHIFTING", "BAKING", "SHIFTING", "BAKING",
      "SHIFTING", "SUCCEEDED"]),
    ("all_at_once", plan_all_at_once(), [100], ["PREPARING", "SHIFTING", "SUCCEEDED"]),
    ("blue_green", plan_blue_green(20, 600, None), [20, 100],
     ["PREPARING", "SHIFTING", "BAKING", "SHIFTING", "SUCCEEDED"]),
]


@pytest.mark.parametrize(("name", "steps", "history", "phases"), STRATEGIES,
                         ids=[s[0] for s in STRATEGIES])
def test_every_strategy_succeeds(name: str, steps: Sequence[Step], history: list[float],
                                 phases: list[str]) -> None:
    run = Run(steps)
    record = run.go()
    assert record.outcome == Outcome.SUCCEEDED
    assert record.exit_code == ExitCode.SUCCEEDED
    assert run.target.history == history
    assert record.weight == 100
    assert run.phases() == phases
    assert run.target.calls[:2] == ["preflight", "prepare"]
    assert run.target.calls[-1] == "retire_old"
    assert run.stored.phase == Phase.SUCCEEDED
    assert run.store.locks == {}
    assert run.notifier.events == ["started", "promoted", "succeeded"]


def test_bake_takes_its_time_polling_every_interval() -> None:
    run = Run(plan_canary(10, 60))
    run.go()
    assert sum(run.clock.sleeps) == 60
    assert run.check.evaluations == 7  # t=0,10,...,60: first and last poll included


def test_final_bake_and_keep_old_are_watched_at_100() -> None:
    run = Run(plan_all_at_once(), final_bake=30, keep_old_for=20)
    run.go()
    assert run.stored.outcome == Outcome.SUCCEEDED
    assert sum(run.clock.sleeps) == 50
    # final bake: t=0,10,20,30; keep-old: 10,20 (its t=0 is the final bake's last poll)
    assert run.check.evaluations == 4 + 2


@pytest.mark.parametrize(("where", "steps", "fire_at", "last_weight"), [
    ("bake", plan_canary(10, 300), 95, 10),
    ("approval", (Shift(5), Approve(3600), Shift(100)), 1000, 5),
    ("final bake", plan_all_at_once(), 45, 100),
])
def test_an_alarm_rolls_back_within_one_poll(where: str, steps: Sequence[Step],
                                             fire_at: float, last_weight: float) -> None:
    run = Run(steps, final_bake=600)
    fired: list[float] = []
    run.clock.at(fire_at, lambda: (run.check.fire(), fired.append(run.clock.now())))
    record = run.go()
    assert record.outcome == Outcome.ROLLED_BACK
    assert record.exit_code == ExitCode.ROLLED_BACK
    assert record.reason == "alarm errors is in ALARM"
    assert record.weight == 0
    assert run.target.history[-2:] == [last_weight, 0]
    rolled_back_at = run.clock.now()
    assert rolled_back_at - fired[0] <= POLL
    assert run.phases()[-2:] == ["ROLLING_BACK", "ROLLED_BACK"]
    assert "discard_new" in run.target.calls
    assert run.notifier.events[-1] == "rolled_back"


def test_failing_before_traffic_hook_never_shifts_traffic() -> None:
    run = Run(plan_canary(10, 60), before=[ScriptedHook("smoke", succeed=False)])
    record = run.go()
    assert record.outcome == Outcome.ROLLED_BACK
    assert record.exit_code == ExitCode.ROLLED_BACK
    assert record.reason == "before_traffic hook smoke failed: smoke test failed"
    assert run.target.history == []
    assert "rollback" not in run.target.calls  # nothing to undo: read showed 0%
    assert record.hooks[0]["succeeded"] is False
    assert record.hooks[0]["output"] == "out"


def test_after_traffic_hook_runs_at_100_with_the_run_context() -> None:
    hook = ScriptedHook("verify")
    run = Run(plan_canary(10, 60), after=[hook])
    run.go()
    assert run.stored.outcome == Outcome.SUCCEEDED
    (context,) = hook.contexts
    assert context["DEPLOYER_RUN_ID"] == "app-1"
    assert context["DEPLOYER_WEIGHT"] == "100"
    assert context["DEPLOYER_STAGE"] == "after_traffic"


def test_failing_after_traffic_hook_rolls_back_from_100() -> None:
    run = Run(plan_canary(10, 60), after=[ScriptedHook("verify", succeed=False)])
    record = run.go()
    assert record.outcome == Outcome.ROLLED_BACK
    assert run.target.history == [10, 100, 0]


def test_deadline_rolls_back() -> None:
    run = Run(plan_linear(10, 600), deadline=1800)
    record = run.go()
    assert record.outcome == Outcome.ROLLED_BACK
    assert record.reason == "deadline passed before the run finished"
    assert run.clock.now() - 1_795_000_000 <= 1800 + POLL
    assert run.target.history[-1] == 0


def test_deadline_never_rolls_back_a_release_that_passed_its_final_bake() -> None:
    """5m of bakes, keep_old_for 10m, deadline 10m: the deadline passes during keep-old."""
    run = Run(plan_canary(10, 240), final_bake=60, keep_old_for=600, deadline=600)
    record = run.go()
    assert record.outcome == Outcome.SUCCEEDED, record.reason
    assert run.target.history == [10, 100]
    assert run.target.calls[-1] == "retire_old"
    assert sum(run.clock.sleeps) == 900


def test_deadline_still_covers_the_final_bake() -> None:
    run = Run(plan_canary(10, 240), final_bake=600, deadline=600)
    record = run.go()
    assert record.outcome == Outcome.ROLLED_BACK
    assert record.reason == "deadline passed before the run finished"
    assert run.target.history == [10, 100, 0]


def test_an_alarm_during_keep_old_still_rolls_back() -> None:
    run = Run(plan_canary(10, 240), final_bake=60, keep_old_for=600, deadline=600)
    run.clock.at(700, run.check.fire)
    record = run.go()
    assert record.outcome == Outcome.ROLLED_BACK
    assert run.target.history == [10, 100, 0]


def test_signal_aborts_and_rolls_back() -> None:
    run = Run(plan_canary(10, 600))
    run.clock.at(125, lambda: run.stop.request("aborted by SIGTERM"))
    record = run.go()
    assert record.outcome == Outcome.ABORTED
    assert record.exit_code == ExitCode.ABORTED
    assert record.phase == Phase.ABORTED
    assert record.reason == "aborted by SIGTERM"
    assert run.target.history == [10, 0]


def test_abort_request_from_the_store() -> None:
    run = Run(plan_canary(10, 600))
    run.clock.at(42, lambda: run.store.add_request("app-1", "abort", by="alice",
                                                    reason="bad metrics"))
    record = run.go()
    assert record.outcome == Outcome.ABORTED
    assert record.reason == "aborted by alice: bad metrics"
    assert record.requests[0]["handled"] is True


def test_approval_waits_until_approved() -> None:
    run = Run((Shift(5), Bake(60), Approve(3600), Shift(100)))
    run.clock.at(500, lambda: run.store.add_request("app-1", "approve", by="bob"))
    record = run.go()
    assert record.outcome == Outcome.SUCCEEDED
    assert 500 <= run.clock.now() - 1_795_000_000 <= 500 + POLL
    assert "AWAITING_APPROVAL" in run.phases()
    assert run.notifier.events == ["started", "approval_requested", "promoted", "succeeded"]


@pytest.mark.parametrize(("on_timeout", "outcome", "history"), [
    (OnTimeout.ROLLBACK, Outcome.ROLLED_BACK, [5, 0]),
    (OnTimeout.PROMOTE, Outcome.SUCCEEDED, [5, 100]),
])
def test_approval_timeout(on_timeout: OnTimeout, outcome: Outcome,
                          history: list[float]) -> None:
    run = Run((Shift(5), Approve(600, on_timeout), Shift(100)))
    record = run.go()
    assert record.outcome == outcome
    assert run.target.history == history
    assert run.clock.now() - 1_795_000_000 == 600


def test_promote_request_skips_the_bake() -> None:
    run = Run(plan_canary(10, 3600))
    run.clock.at(30, lambda: run.store.add_request("app-1", "promote"))
    record = run.go()
    assert record.outcome == Outcome.SUCCEEDED
    assert run.clock.now() - 1_795_000_000 <= 30 + POLL


def test_drift_stops_without_fighting() -> None:
    run = Run(plan_canary(10, 600))
    run.clock.at(100, lambda: setattr(run.target, "outsider", 50.0))
    record = run.go()
    assert record.outcome == Outcome.FAILED
    assert record.exit_code == ExitCode.UNSAFE
    assert record.reason is not None and record.reason.startswith("drift:")
    assert "rollback" not in run.target.calls
    assert run.target.history == [10]
    assert run.store.locks == {}


def test_failed_rollback_is_unsafe() -> None:
    run = Run(plan_canary(10, 600))
    run.target.fail_rollback = True
    run.clock.at(50, run.check.fire)
    record = run.go()
    assert record.outcome == Outcome.FAILED
    assert record.exit_code == ExitCode.UNSAFE
    assert record.reason is not None and record.reason.startswith("rollback failed:")


def test_aws_failure_mid_run_rolls_back_and_reports_failure() -> None:
    run = Run(plan_linear(25, 60))
    run.target.fail_shift_at = 50
    record = run.go()
    assert record.outcome == Outcome.FAILED
    assert record.exit_code == ExitCode.UNEXPECTED
    assert record.reason == "UpdateAlias failed at 50"
    assert run.target.history == [25, 0]


def test_a_bug_in_a_collaborator_still_restores_traffic() -> None:
    run = Run(plan_canary(10, 60))

    def broken(**_: object) -> None:
        raise RuntimeError("boom")

    run.clock.at(20, lambda: setattr(run.check, "evaluate", broken))
    record = run.go()
    assert record.outcome == Outcome.FAILED
    assert record.exit_code == ExitCode.UNEXPECTED
    assert record.reason == "unexpected error: RuntimeError: boom"
    assert run.target.history == [10, 0]


def test_preflight_refusal_changes_nothing() -> None:
    run = Run(plan_canary(10, 60))
    run.target.refuse = "alias live is already split"
    record = run.go()
    assert record.outcome == Outcome.REFUSED
    assert record.exit_code == ExitCode.REFUSED
    assert run.target.calls == ["preflight"]
    assert run.store.locks == {}


def test_second_run_on_the_same_target_is_refused() -> None:
    first = Run(plan_canary(10, 600))
    first.controller.advance()  # takes the lock
    second = Run(plan_canary(10, 60), store=first.store)
    second.record = None
    record = RunRecord(run_id="app-2", plan_name="app", target_key="fake:app",
                       target={}, plan={}, started_at="t1")
    first.store.create(record)
    parts = second.controller.parts
    refused = Controller(record, second.steps, Timings(POLL, 0, 0), parts, StopSignal()).run()
    assert refused.outcome == Outcome.REFUSED
    assert refused.exit_code == ExitCode.REFUSED
    assert refused.reason == "run app-1 holds fake:app"
    assert first.store.locks == {"fake:app": "app-1"}
    assert second.target.calls == []


def test_nothing_to_do_is_a_success() -> None:
    run = Run(plan_canary(10, 60))
    run.target.done = True
    record = run.go()
    assert record.outcome == Outcome.SUCCEEDED
    assert record.reason is not None and "nothing to do" in record.reason
    assert run.target.history == []


def test_every_transition_is_persisted() -> None:
    run = Run(plan_canary(10, 60))
    saves: list[str] = []
    original = run.store.save

    def spy(record: RunRecord) -> None:
        saves.append(record.phase.value)
        original(record)

    run.store.save = spy  # type: ignore[method-assign]
    run.go()
    for phase in ("PREPARING", "SHIFTING", "BAKING", "PROMOTING", "SUCCEEDED"):
        assert phase in saves
    assert run.stored.to_json() == run.controller.record.to_json()


# ---------------------------------------------------------------- operator requests

def test_promote_full_goes_to_100_at_once() -> None:
    run = Run(plan_linear(10, 600))
    run.clock.at(30, lambda: run.store.add_request("app-1", "promote_full", by="ops"))
    record = run.go()
    assert record.outcome == Outcome.SUCCEEDED
    assert run.target.history == [10, 100]
    assert run.clock.now() - 1_795_000_000 <= 30 + POLL


def test_promote_during_an_approval_approves() -> None:
    run = Run((Shift(5), Approve(3600), Shift(100)))
    run.clock.at(60, lambda: run.store.add_request("app-1", "promote", by="ops"))
    assert run.go().outcome == Outcome.SUCCEEDED
    assert run.clock.now() - 1_795_000_000 <= 60 + POLL


def test_promote_skips_the_final_bake() -> None:
    run = Run(plan_all_at_once(), final_bake=3600)
    run.clock.at(100, lambda: run.store.add_request("app-1", "promote"))
    assert run.go().outcome == Outcome.SUCCEEDED
    assert run.clock.now() - 1_795_000_000 <= 100 + POLL


def test_requests_are_in_the_event_trail_with_who_and_why() -> None:
    run = Run((Shift(5), Approve(3600), Shift(100)))
    run.clock.at(60, lambda: run.store.add_request("app-1", "approve", by="alice@laptop",
                                                    reason="dashboards look fine"))
    record = run.go()
    messages = [e.message for e in record.events]
    assert "request received: approve from alice@laptop" in messages
    assert "approved by alice@laptop: dashboards look fine" in messages


# ---------------------------------------------------------------- takeover (resume)

def crashed(steps: Sequence[Step], until: float, **kwargs: object) -> Run:
    """A run whose controller stopped ticking after `until` seconds (no clean exit)."""
    run = Run(steps, **kwargs)  # type: ignore[arg-type]
    while run.clock.now() - 1_795_000_000 < until and not run.controller.record.terminal:
        delay = run.controller.advance()
        run.clock.sleep(delay)
    return run


def successor(run: Run) -> Controller:
    assert run.record is not None
    record = run.store.load(run.record.run_id)
    parts = Parts(target=run.target, check=run.check, before_traffic=[], after_traffic=[],
                  store=run.store, clock=run.clock, notifier=run.notifier,
                  observer=NullObserver())
    successor = Controller(record, run.steps, Timings(POLL, 0, 0), parts, StopSignal())
    successor.journal.owner = "other-host:42"
    return successor


def test_resume_finishes_a_run_from_the_record_and_aws() -> None:
    run = crashed(plan_linear(25, 600), until=700)
    assert run.target.history == [25, 50]
    record = successor(run).resume("bob@laptop")
    assert record.outcome == Outcome.SUCCEEDED
    assert run.target.history == [25, 50, 75, 100]
    assert any(e.message.startswith("taken over by bob@laptop from ") for e in record.events)


def test_resume_after_a_crash_between_write_and_record() -> None:
    run = crashed(plan_linear(25, 600), until=700)
    run.target.weight = 75.0  # the next write landed, the record never heard of it
    stored = run.store.load("app-1")
    stored.move_to(Phase.SHIFTING)
    stored.requested_weight = 75.0
    stored.step_index = 4
    run.store.save(stored)
    record = successor(run).resume("bob")
    assert record.outcome == Outcome.SUCCEEDED


def test_resume_refuses_to_fight_an_outsider() -> None:
    run = crashed(plan_canary(10, 600), until=100)
    run.target.outsider = 60.0
    record = successor(run).resume("bob")
    assert record.outcome == Outcome.FAILED
    assert record.exit_code == ExitCode.UNSAFE
    assert "rollback" not in run.target.calls


def test_resume_mid_rollback_completes_it() -> None:
    run = Run(plan_canary(10, 600))
    run.clock.at(50, run.check.fire)
    while run.controller.record.phase != Phase.ROLLING_BACK:
        run.clock.sleep(run.controller.advance())
    record = successor(run).resume("bob")
    assert record.outcome == Outcome.ROLLED_BACK
    assert run.target.weight == 0


def test_the_old_controller_stops_when_taken_over() -> None:
    run = crashed(plan_canary(10, 600), until=100)
    successor(run).take_over("bob")
    record = run.controller.run()  # the "dead" controller wakes up...
    assert record.outcome == Outcome.FAILED
    assert "taken over by other-host:42" in (run.controller.record.reason or "")
    assert run.store.load("app-1").phase == Phase.BAKING  # ...and wrote nothing
    assert run.target.history == [10]


def test_a_signal_before_preflight_aborts_with_nothing_to_undo() -> None:
    run = Run(plan_canary(10, 60))
    run.stop.request("aborted by SIGINT")
    record = run.go()
    assert (record.outcome, record.exit_code, record.phase) == (
        Outcome.ABORTED, ExitCode.ABORTED, Phase.ABORTED)
    assert run.target.calls == []
    assert run.store.locks == {}


def test_an_approval_before_any_traffic() -> None:
    run = Run((Approve(3600), Shift(100)))
    run.clock.at(400, lambda: run.store.add_request("app-1", "approve", by="ops"))
    record = run.go()
    assert record.outcome == Outcome.SUCCEEDED, record.reason
    assert run.target.history == [100]
    assert "read" in run.target.calls  # traffic was still checked while waiting at 0%


def test_a_new_version_that_never_gets_healthy_is_rolled_back() -> None:
    run = Run(plan_canary(10, 60))
    run.target.unhealthy = "service shop-green was not stable and healthy within 600s"
    record = run.go()
    assert (record.outcome, record.exit_code) == (Outcome.ROLLED_BACK, ExitCode.ROLLED_BACK)
    assert record.reason == "service shop-green was not stable and healthy within 600s"
    assert run.target.history == []
    assert "discard_new" in run.target.calls


def test_alarms_without_data_are_called_out_at_the_start() -> None:
    run = Run(plan_all_at_once())
    run.check.states["errors"] = "INSUFFICIENT_DATA"
    record = run.go()
    assert record.outcome == Outcome.SUCCEEDED
    assert any(e.message.startswith("warning: alarm errors has INSUFFICIENT_DATA")
               for e in record.events)


# ---------------------------------------------------------------- analysis (SPEC §7)

def judged(**kwargs: object) -> Run:
    return Run(plan_canary(10, 60), check=ScriptedCheck(judging=True), **kwargs)  # type: ignore[arg-type]


def test_extend_keeps_baking_until_analysis_decides() -> None:
    run = judged()
    run.check.doubt = "error_rate: the new version has 3 requests"
    run.clock.at(100, lambda: setattr(run.check, "doubt", None))
    record = run.go()
    assert record.outcome == Outcome.SUCCEEDED
    assert sum(run.clock.sleeps) == pytest.approx(100, abs=POLL)  # 60s bake + 40s extended
    messages = [e.message for e in run.stored.events]
    assert any(m.startswith("bake 1m extended: analysis inconclusive") for m in messages)
    assert "analysis: error_rate pass" in messages


def test_extend_rolls_back_after_three_times_the_bake() -> None:
    run = judged()
    run.check.doubt = "error_rate: the new version has 3 requests"
    record = run.go()
    assert record.outcome == Outcome.ROLLED_BACK
    assert record.exit_code == ExitCode.ROLLED_BACK
    assert record.reason == ("analysis: inconclusive at the end of the bake 1m after 3m: "
                             "error_rate: the new version has 3 requests")
    assert run.clock.now() - 1_795_000_000 == pytest.approx(180, abs=POLL)
    assert run.target.history == [10, 0]


def test_rollback_policy_rolls_back_at_the_end_of_the_bake() -> None:
    run = judged(on_inconclusive=OnInconclusive.ROLLBACK)
    run.check.doubt = "no data"
    record = run.go()
    assert record.reason == "analysis: inconclusive at the end of the bake 1m: no data"
    assert sum(run.clock.sleeps) == 60


def test_promote_policy_goes_on() -> None:
    run = judged(on_inconclusive=OnInconclusive.PROMOTE)
    run.check.doubt = "no data"
    assert run.go().outcome == Outcome.SUCCEEDED
    assert run.target.history == [10, 100]


def test_approve_policy_waits_for_an_operator_who_sees_why() -> None:
    run = judged(on_inconclusive=OnInconclusive.APPROVE)
    run.check.doubt = "error_rate: the stable version has 2 requests"
    waiting: list[RunRecord] = []
    run.clock.at(90, lambda: waiting.append(run.store.load("app-1")))
    run.clock.at(120, lambda: run.store.add_request("app-1", "approve", by="ops"))
    record = run.go()
    assert record.outcome == Outcome.SUCCEEDED
    assert waiting[0].phase == Phase.AWAITING_APPROVAL
    assert waiting[0].inconclusive == "error_rate: the stable version has 2 requests"
    assert "waiting for approval: analysis inconclusive at the end of the bake 1m" in \
        waiting[0].events[-2].message
    assert run.target.history == [10, 100]


def test_approve_policy_times_out_into_a_rollback() -> None:
    run = judged(on_inconclusive=OnInconclusive.APPROVE)
    run.check.doubt = "no data"
    record = run.go()
    assert record.outcome == Outcome.ROLLED_BACK
    assert record.reason == "approval timed out after 1h"


def test_final_bake_is_judged_at_full_and_gated_too() -> None:
    run = Run(plan_all_at_once(), final_bake=60, check=ScriptedCheck(judging=True),
              on_inconclusive=OnInconclusive.APPROVE, keep_old_for=30)
    run.check.doubt = "error_rate: the new version has 3 requests"
    run.clock.at(200, lambda: run.store.add_request("app-1", "approve", by="ops"))
    record = run.go()
    assert record.outcome == Outcome.SUCCEEDED
    assert all(run.check.at_full)
    assert "PROMOTING" in run.phases() and "AWAITING_APPROVAL" in run.phases()
    assert run.target.calls[-1] == "retire_old"


def test_canary_bakes_are_judged_against_stable() -> None:
    run = judged()
    run.go()
    assert run.check.at_full[0] is False


# ---------------------------------------------------------------- windows (SPEC §14)

def with_windows(run: Run, spec: dict[str, object]) -> None:
    """The run's controller asks the plan's windows `spec` (refusing when it says so)."""
    from deployer.plan.model import OutsideWindow, WindowsSpec

    windows = WindowsSpec.model_validate(spec)
    run.controller.window.window = windows.schedule()
    run.controller.window.refuse_outside = windows.outside is OutsideWindow.REFUSE


def freeze(clock: FakeClock, start: float, end: float) -> dict[str, object]:
    """A deny entry from `start` to `end` seconds after the clock's now (whole minutes)."""
    def at(offset: float) -> str:
        return datetime.fromtimestamp(clock.t + offset, UTC).strftime("%Y-%m-%dT%H:%M")
    return {"deny": [{"from": at(start), "to": at(end), "tz": "UTC", "reason": "freeze"}]}


def test_a_closed_window_holds_the_next_shift_watching_the_checks() -> None:
    run = Run(plan_canary(10, 120))
    run.clock.t = 1_800_000_000.0  # a whole minute
    with_windows(run, freeze(run.clock, 60, 300))
    record = run.go()
    assert record.outcome == Outcome.SUCCEEDED
    assert run.phases() == ["PREPARING", "SHIFTING", "BAKING", "WAITING_WINDOW", "SHIFTING",
                            "SUCCEEDED"]
    messages = [e.message for e in run.stored.events]
    assert any(m.startswith("holding at 10%: the deployment window is closed (freeze (until")
               for m in messages)
    # The second shift waited for the end of the freeze (300 s), not the bake's 120 s.
    shifted = [e for e in run.stored.events if e.message.startswith("shifted to 100%")]
    assert shifted and shifted[0].at >= iso_at(run.clock, 1_800_000_300.0)
    assert run.check.evaluations > 20  # checks watched every poll while held


def iso_at(clock: FakeClock, t: float) -> str:
    from deployer.core.clock import iso

    return iso(datetime.fromtimestamp(t, UTC))


def test_a_failing_check_while_held_rolls_back_at_once() -> None:
    run = Run(plan_canary(10, 120))
    run.clock.t = 1_800_000_000.0
    with_windows(run, freeze(run.clock, 60, 3600))
    run.clock.at(600, run.check.fire)  # held since 120 s: the alarm fires at 600 s
    record = run.go()
    assert record.outcome == Outcome.ROLLED_BACK
    assert "alarm errors is in ALARM" in (record.reason or "")
    assert record.weight == 0.0
    assert run.clock.t < 1_800_000_000.0 + 700  # not held back until the window opened


def test_outside_refuse_refuses_a_run_that_starts_while_closed() -> None:
    run = Run(plan_canary(10, 120))
    run.clock.t = 1_800_000_000.0
    with_windows(run, {**freeze(run.clock, -60, 600), "outside": "refuse"})
    record = run.go()
    assert (record.outcome, record.exit_code) == (Outcome.REFUSED, ExitCode.REFUSED)
    assert record.reason == "the deployment window is closed (freeze (until 2027-01-15 " \
                            "08:10 UTC))"
    assert run.target.weight == 0.0 and record.weight is None  # nothing moved


def test_an_abort_while_held_by_the_window_rolls_back() -> None:
    from deployer.runs.operator import ALLOWED

    assert Phase.WAITING_WINDOW in ALLOWED["abort"]
    run = Run(plan_canary(10, 120))
    run.clock.t = 1_800_000_000.0
    with_windows(run, freeze(run.clock, 60, 3600))

    def abort() -> None:
        stored = run.store.load("app-1")
        stored.requests.append({"id": "r1", "action": "abort", "by": "ops",
                                "handled": False})
        run.store.save(stored)

    run.clock.at(600, abort)
    record = run.go()
    assert record.outcome == Outcome.ABORTED
    assert record.weight == 0.0


class ScriptedWindow:
    """A window whose state the test sets (a change calendar, say)."""

    def __init__(self, state: WindowState) -> None:
        self.now = state
        self.asked = 0

    def state(self, at: datetime) -> WindowState:
        self.asked += 1
        return self.now


def test_the_record_says_why_and_when_while_held() -> None:
    run = Run(plan_canary(10, 120))
    opens = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)
    window = ScriptedWindow(WindowState(None))
    run.controller.window.window = window
    seen: list[dict[str, object] | None] = []

    def close() -> None:
        window.now = WindowState("change calendar prod-freeze is CLOSED", opens)

    def look_then_open() -> None:
        stored = run.store.load("app-1")
        seen.append(stored.document()["window"])
        seen.append({"phase": stored.phase.value, "stage": stored.stage})
        window.now = WindowState(None)

    run.clock.at(60, close)
    run.clock.at(400, look_then_open)
    record = run.go()
    assert record.outcome == Outcome.SUCCEEDED
    assert seen == [{"closed_because": "change calendar prod-freeze is CLOSED",
                     "opens": "2027-01-04T08:00:00Z"},
                    {"phase": "WAITING_WINDOW",
                     "stage": "window: change calendar prod-freeze is CLOSED"}]
    assert record.window is None  # cleared once open
    assert "the deployment window is open: going on" in [e.message for e in record.events]


def test_an_override_is_never_held_and_says_so() -> None:
    run = Run(plan_canary(10, 120))
    window = ScriptedWindow(WindowState("year-end freeze", None))
    run.controller.window.window = window
    run.controller.window.refuse_outside = True
    assert run.record is not None
    run.record.window_override = {"by": "ops@example.com", "reason": "hotfix INC-42",
                                  "at": "t0"}
    record = run.go()
    assert record.outcome == Outcome.SUCCEEDED
    assert window.asked == 0
    assert "deployment window overridden by ops@example.com: hotfix INC-42" in \
        [e.message for e in record.events]
    assert record.document()["window_override"]["reason"] == "hotfix INC-42"


def test_an_unreadable_window_refuses_at_the_start_and_holds_mid_run() -> None:
    unreadable = WindowState("cannot read change calendar prod-freeze: AccessDeniedException:"
                             " no", None, unreadable=True)
    run = Run(plan_canary(10, 120))
    run.controller.window.window = ScriptedWindow(unreadable)
    record = run.go()
    assert (record.outcome, record.exit_code) == (Outcome.REFUSED, ExitCode.REFUSED)
    assert record.reason == unreadable.closed_because
    assert "ssm:GetCalendarState" in (record.hint or "")
    assert run.target.history == []

    later = Run(plan_canary(10, 120), deadline=900)
    window = ScriptedWindow(WindowState(None))
    later.controller.window.window = window

    def lose_access() -> None:
        window.now = unreadable

    later.clock.at(60, lose_access)
    record = later.go()
    # Never taken as open: held at 10% until the deadline rolled it back.
    assert later.target.history == [10, 0]
    assert record.outcome == Outcome.ROLLED_BACK
    assert record.reason == "deadline passed before the run finished"


def test_an_override_request_releases_a_held_run() -> None:
    run = Run(plan_canary(10, 120))
    run.controller.window.window = ScriptedWindow(WindowState("year-end freeze", None))

    def override() -> None:
        stored = run.store.load("app-1")
        stored.requests.append({"id": "r1", "action": "override_window", "by": "ops",
                                "reason": "INC-42", "at": "t1", "handled": False})
        run.store.save(stored)

    run.clock.at(3600, override)
    record = run.go()
    assert record.outcome == Outcome.SUCCEEDED
    assert run.target.history == [10, 100]
    assert record.window_override == {"by": "ops", "reason": "INC-42", "at": "t1"}
    assert "deployment window overridden by ops: INC-42" in [e.message for e in record.events]
    shifted = next(e for e in record.events if e.message.startswith("shifted to 10%"))
    assert shifted.at >= iso_at(run.clock, EPOCH + 3600)  # held until the override


def test_a_run_held_by_its_window_is_resumed_held_and_goes_on_when_it_opens() -> None:
    window = ScriptedWindow(WindowState(None))
    run = Run(plan_canary(10, 120))
    run.controller.window.window = window

    def close() -> None:
        window.now = WindowState("year-end freeze", None)

    run.clock.at(60, close)
    while run.clock.now() - 1_795_000_000 < 900:  # the controller dies while held
        run.clock.sleep(run.controller.advance())
    assert run.store.load("app-1").phase == Phase.WAITING_WINDOW
    assert run.target.history == [10]
    taker = successor(run)
    taker.window.window = window  # the plan's windows, as resume builds them
    run.clock.at(600, lambda: setattr(window, "now", WindowState(None)))
    record = taker.resume("bob@laptop")
    assert record.outcome == Outcome.SUCCEEDED
    assert run.target.history == [10, 100]
    assert "resuming in WAITING_WINDOW: traffic reads 10%" in " ".join(
        e.message for e in record.events)


def test_a_closed_window_whose_opening_has_passed_is_read_again_at_the_next_poll() -> None:
    """A calendar still CLOSED after the transition it announced: no busy loop."""
    run = Run(plan_canary(10, 120))
    past = datetime.fromtimestamp(run.clock.t - 60, UTC)
    run.controller.window.window = ScriptedWindow(WindowState("change calendar x is CLOSED",
                                                              past))
    delays = [run.controller.advance() for _ in range(12)]  # a bounded number of ticks
    assert run.controller.record.phase == Phase.WAITING_WINDOW
    assert delays[-5:] == [POLL] * 5  # every look while held waits a whole poll
