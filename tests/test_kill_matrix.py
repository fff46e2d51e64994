"""The kill matrix (SPEC §6.4): the controller dies at every distinct point — before and
after each AWS write, before and after each store write — and a new controller takes
over (what `deployer resume --force` does). Every run ends whole, with the takeover in
its event trail. In-process, so every point is hit exactly: `Killed` is raised at the
point (a BaseException, which the controller's error handling does not catch, like
SIGKILL) and the new controller starts from the stored record and what AWS reports.
SIGTERM at random moments: exit 4, traffic on stable. Real SIGKILLs of the CLI are in
test_e2e_operator.py."""

from __future__ import annotations

import random
from typing import Any

import pytest

from deployer.aws import AwsContext
from deployer.checks.alarms import CloudWatchAlarms
from deployer.core.record import Outcome, RunRecord
from deployer.core.signals import StopSignal
from deployer.engine.controller import Controller, Parts, Timings
from deployer.errors import ExitCode
from deployer.plan.model import ChecksSpec
from tests.fakes import FakeClock, InMemoryStore, NullObserver, RecordingNotifier
from tests.soak import POLL, Scenario, World, build_world

WRITES = {"UpdateAlias", "PublishVersion", "ModifyListener", "ModifyRule", "UpdateService",
          "RegisterTaskDefinition"}


class Killed(BaseException):
    """The controller process is gone."""


class KillSwitch:
    """Counts the kill points a run passes; raises Killed at point `at`."""

    def __init__(self, at: int | None) -> None:
        self.at = at
        self.points: list[str] = []

    def point(self, name: str) -> None:
        self.points.append(name)
        if self.at is not None and len(self.points) - 1 == self.at:
            raise Killed(name)

    def attach(self, aws: AwsContext) -> None:
        for service in ("lambda", "elbv2", "ecs"):
            events = aws.client(service).meta.events
            events.register("before-call", self._before)
            events.register("after-call", self._after)

    def _before(self, model: Any, **_: Any) -> None:
        if model.name in WRITES:
            self.point(f"before {model.name}")

    def _after(self, model: Any, **_: Any) -> None:
        if model.name in WRITES:
            self.point(f"after {model.name}")


class KillingStore(InMemoryStore):
    def __init__(self, switch: KillSwitch | None) -> None:
        super().__init__()
        self.switch = switch

    def save(self, record: RunRecord) -> None:
        if self.switch:
            self.switch.point("before store save")
        super().save(record)
        if self.switch:
            self.switch.point("after store save")


def controller_for(scenario: Scenario, world: World, store: InMemoryStore, clock: FakeClock,
                   record: RunRecord) -> Controller:
    check = CloudWatchAlarms(ChecksSpec(alarms=world.alarms, poll_every=POLL), world.aws)
    parts = Parts(world.target, check, [], [], store, clock, RecordingNotifier(),
                  NullObserver())
    return Controller(record, scenario.steps, Timings(POLL, 60, 60), parts, StopSignal())


def run_with_kill(scenario: Scenario, at: int | None, label: str
                  ) -> tuple[RunRecord, World, KillSwitch, bool]:
    aws = AwsContext(region="us-east-1", sleep=lambda seconds: None, botocore_attempts=1)
    clock = FakeClock()
    world = build_world(scenario, label, aws, clock)
    if scenario.alarm_at is not None:
        clock.at(scenario.alarm_at, world.alarm)
    switch = KillSwitch(at)
    switch.attach(aws)
    store = KillingStore(switch)
    record = RunRecord(run_id="r", plan_name="p", target_key="k", target={}, plan={},
                       started_at="t")
    store.create(record)
    try:
        return controller_for(scenario, world, store, clock, record).run(), world, switch, False
    except Killed:
        pass
    # A new controller, in a new "process": only the store and AWS survived.
    store.switch = None
    stored = store.load("r")
    if stored.terminal:  # killed after its last save: nothing left to take over
        return stored, world, switch, False
    if world.rebuild is not None:
        world.target = world.rebuild(stored.target)
    else:
        world.target = type(world.target)(world.target.spec, aws, clock,  # type: ignore[attr-defined]
                                          stored.target)
    successor = controller_for(scenario, world, store, clock, stored)
    successor.journal.owner = "successor:2"
    return successor.resume("tester"), world, switch, True


CASES = {
    "lambda canary": Scenario(1000, "lambda", {"canary": {"weight": 10, "bake": 120}}, None),
    "lambda rolled back": Scenario(1001, "lambda", {"linear": {"step": 50, "every": 120}},
                                   150.0),
    "ecs linear": Scenario(1002, "ecs", {"linear": {"step": 50, "every": 120}}, None),
    "ecs rolled back": Scenario(1003, "ecs", {"canary": {"weight": 20, "bake": 300}}, 100.0),
    # 3 targets in 2 waves; the alarm (of the wave-two ECS target) fires in wave two, so
    # the rollback also restores wave one.
    "application": Scenario(1004, "app", {"linear": {"step": 50, "every": 120}}, None),
    "application rolled back": Scenario(1005, "app", {"canary": {"weight": 20, "bake": 300}},
                                        480.0),
}


def chosen(points: list[str], every: bool, stride: int = 5) -> list[int]:
    """Every index, or (for `make test`) each distinct point once plus every `stride`th."""
    if every:
        return list(range(len(points)))
    first = {name: index for index, name in reversed(list(enumerate(points)))}
    return sorted(set(first.values()) | set(range(0, len(points), stride)))


# `make test` runs a slice of each case (the application's rolled-back one covers both
# waves and the rollback; its succeeding twin and the ECS linear one, whose points the
# ECS rolled-back slice passes too, run with `make soak`), `make soak` all.
SLOW_SLICES = {"application", "ecs linear"}  # the ECS rolled-back slice stays


@pytest.mark.usefixtures("moto_aws")
@pytest.mark.parametrize(("case", "every"), [
    pytest.param(case, every, id=f"{case}-{'all' if every else 'slice'}",
                 marks=[pytest.mark.slow] if every or case in SLOW_SLICES else [])
    for case in sorted(CASES) for every in (False, True)])
def test_killed_at_every_point_then_taken_over(case: str, every: bool) -> None:
    scenario = CASES[case]
    clean, _, switch, _ = run_with_kill(scenario, None, "clean")
    points = list(switch.points)
    expected = clean.outcome
    assert expected == (Outcome.SUCCEEDED if scenario.alarm_at is None
                        else Outcome.ROLLED_BACK)
    assert len(points) >= 10
    assert {"before store save", "after store save"} <= set(points)
    assert any(p.startswith("after Update") or p.startswith("after Modify") for p in points)
    # An application's run passes each point once per target and wave: its slice takes
    # each distinct point and every 15th (make soak takes them all).
    stride = 15 if case.startswith("application") else 5
    for index in chosen(points, every, stride):
        name = points[index]
        record, world, _, resumed = run_with_kill(scenario, index, f"k{index}")
        where = f"killed at point {index} ({name})"
        assert record.terminal, where
        assert record.outcome == expected, f"{where}: {record.outcome} {record.reason}"
        assert world.traffic() == ("new" if expected == Outcome.SUCCEEDED else "stable"), where
        if resumed:
            assert any(e.message.startswith("taken over by tester from ")
                       for e in record.events), where


@pytest.mark.usefixtures("moto_aws")
@pytest.mark.parametrize("seed", range(6))
def test_sigterm_at_a_random_moment_aborts_to_stable(seed: int) -> None:
    scenario = Scenario(2000 + seed, "lambda" if seed % 2 else "ecs",
                        {"linear": {"step": 25, "every": 120}}, None)
    aws = AwsContext(region="us-east-1", sleep=lambda seconds: None, botocore_attempts=1)
    clock = FakeClock()
    world = build_world(scenario, "t", aws, clock)
    store = InMemoryStore()
    record = RunRecord(run_id="r", plan_name="p", target_key="k", target={}, plan={},
                       started_at="t")
    store.create(record)
    controller = controller_for(scenario, world, store, clock, record)
    clock.at(random.Random(seed).uniform(0, 360), lambda: controller.stop.request(
        "aborted by SIGTERM"))
    result = controller.run()
    assert (result.outcome, result.exit_code) == (Outcome.ABORTED, ExitCode.ABORTED)
    assert world.traffic() == "stable"
