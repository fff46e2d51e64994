"""A whole application with fakes only (SPEC §8): legs move in lockstep, wave after
wave, and a failure anywhere, at any phase, restores every leg that had traffic."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from deployer.core.record import Outcome, Phase, RunRecord
from deployer.core.signals import StopSignal
from deployer.engine.controller import Controller, Parts, Timings
from deployer.engine.fleet import Fleet, FleetLeg
from deployer.errors import ExitCode
from strategies.canary import plan_canary
from strategies.linear import plan_linear
from strategies.steps import Step
from tests.fakes import (
    FakeClock,
    FakeTarget,
    InMemoryStore,
    NullObserver,
    RecordingNotifier,
    ScriptedCheck,
    ScriptedHook,
)

WAVES = [["a", "b"], ["c"]]


class App:
    def __init__(self, steps: Sequence[Step] = plan_canary(10, 60), final_bake: float = 30,
                 waves: list[list[str]] = WAVES, keys: Sequence[str] = ("k:a", "k:b", "k:c"),
                 store: InMemoryStore | None = None, before: Sequence[ScriptedHook] = ()
                 ) -> None:
        self.legs = {name: FakeTarget() for wave in waves for name in wave}
        self.fleet = Fleet([FleetLeg(name, i, self.legs[name])
                            for i, wave in enumerate(waves) for name in wave], waves)
        self.clock = FakeClock()
        self.check = ScriptedCheck()
        self.store = store or InMemoryStore()
        self.record = RunRecord(run_id="app-1", plan_name="app", target_key="app:shop",
                                target={"kind": "multi"}, plan={}, started_at="t0",
                                target_keys=list(keys))
        self.store.create(self.record)
        self.before = list(before)
        parts = Parts(target=self.fleet, check=self.check, before_traffic=self.before,
                      after_traffic=[], store=self.store, clock=self.clock,
                      notifier=RecordingNotifier(), observer=NullObserver())
        self.controller = Controller(self.record, steps, Timings(10.0, final_bake, 20),
                                     parts, StopSignal())

    def go(self) -> RunRecord:
        return self.controller.run()

    def history(self) -> dict[str, list[float]]:
        return {name: leg.history for name, leg in self.legs.items()}


def test_waves_move_in_lockstep_one_after_the_other() -> None:
    app = App()
    record = app.go()
    assert record.outcome == Outcome.SUCCEEDED, record.reason
    assert app.history() == {"a": [10, 100], "b": [10, 100], "c": [10, 100]}
    # wave 2 was prepared only once wave 1 had passed its final bake
    assert app.legs["c"].calls.index("prepare") > 0
    assert all(leg.calls[-1] == "retire_old" for leg in app.legs.values())
    document = record.document()
    assert document["weight"] == 100
    assert {n: t["weight"] for n, t in document["targets"].items()} == {"a": 100, "b": 100,
                                                                       "c": 100}
    assert document["target"]["waves"] == WAVES
    messages = [e.message for e in app.store.load("app-1").events]
    assert "wave 2 of 2: c" in messages
    assert app.store.locks == {}
    # 2 waves x (60s bake + 30s final bake) + 20s keep-old
    assert sum(app.clock.sleeps) == 2 * 90 + 20


PHASES = ["preflight", "prepare", "shift", "rollback"]


@pytest.mark.parametrize("leg", ["a", "b", "c"])
@pytest.mark.parametrize("when", ["first shift", "second shift", "bake", "drift"])
def test_a_failure_on_any_leg_restores_every_leg_that_had_traffic(leg: str, when: str) -> None:
    app = App(plan_linear(50, 60))
    target = app.legs[leg]
    if when == "first shift":
        target.fail_shift_at = 50
    elif when == "second shift":
        target.fail_shift_at = 100
    elif when == "bake":
        app.clock.at(30 if leg != "c" else 200, app.check.fire)
    else:
        app.clock.at(30 if leg != "c" else 200, lambda: setattr(target, "outsider", 12.0))
    record = app.go()
    if when == "drift":
        assert record.outcome == Outcome.FAILED
        assert record.exit_code == ExitCode.UNSAFE
        assert record.reason is not None and f"{leg}: 12% set by someone else" in record.reason
        assert record.reason.endswith(f"{leg} left alone, every other target rolled back")
        assert target.outsider == 12.0  # not fought
        others = [n for n in (["a", "b"] if leg != "c" else ["a", "b", "c"]) if n != leg]
        assert all(app.legs[n].weight == 0 for n in others)
        return
    expected = Outcome.ROLLED_BACK if when == "bake" else Outcome.FAILED  # AWS failing: exit 1
    assert record.outcome == expected, record.reason
    touched = ["a", "b"] if leg != "c" else ["a", "b", "c"]
    for name in touched:
        assert app.legs[name].weight == 0, (name, app.history())
        assert "rollback" in app.legs[name].calls
    if leg != "c":
        assert app.legs["c"].history == []  # wave 2 never started
        assert "prepare" not in app.legs["c"].calls


def test_a_failed_rollback_on_one_leg_still_restores_the_others_and_names_it() -> None:
    app = App()
    app.legs["b"].fail_rollback = True
    app.clock.at(30, app.check.fire)
    record = app.go()
    assert record.exit_code == ExitCode.UNSAFE
    assert record.reason is not None
    assert "but b is left as they were" in record.reason or "b is left" in record.reason
    assert app.legs["a"].weight == 0


def test_a_refusal_on_one_leg_refuses_the_whole_run() -> None:
    app = App()
    app.legs["c"].refuse = "alias live of function c does not exist"
    record = app.go()
    assert record.outcome == Outcome.REFUSED
    assert record.reason == "target c: alias live of function c does not exist"
    assert all(leg.history == [] for leg in app.legs.values())


def test_locks_are_all_or_none() -> None:
    store = InMemoryStore()
    store.acquire_lock("k:b", "other-run", 1e12)
    store.create(RunRecord(run_id="other-run", plan_name="x", target_key="k:b", target={},
                           plan={}, started_at="t0", lease={"owner": "x",
                                                             "expires_at": 1e12}))
    app = App(store=store)
    record = app.go()
    assert record.outcome == Outcome.REFUSED
    assert record.reason == "run other-run holds k:b"
    assert store.locks == {"k:b": "other-run"}  # k:a was taken, then given back


def test_hooks_run_per_wave_with_the_waves_targets() -> None:
    hook = ScriptedHook("smoke")
    app = App(before=[hook])
    assert app.go().outcome == Outcome.SUCCEEDED
    assert [c["DEPLOYER_TARGETS"] for c in hook.contexts] == ["a,b", "c"]
    assert [c["DEPLOYER_WAVE"] for c in hook.contexts] == ["1", "2"]


def test_resume_finishes_a_wave_write_that_landed_on_some_legs_only() -> None:
    app = App(plan_linear(50, 60))
    app.legs["b"].fail_shift_at = 50  # a dies between the legs' writes, say
    app.controller.advance()  # preflight
    app.controller.advance()  # prepare
    app.controller.advance()  # before_traffic (none) -> SHIFTING
    app.record.requested_weight = 50.0
    app.legs["a"].shift(50)   # the write landed on a only
    app.legs["b"].fail_shift_at = None
    stored = app.record
    stored.phase = Phase.SHIFTING
    app.controller.take_over("me")
    assert app.legs["a"].weight == 50 and app.legs["b"].weight == 50
    assert app.record.weight == 50
