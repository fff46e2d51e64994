"""One seeded release, run in-process on moto with the real targets, alarms and retry
wrapper, a FakeClock and an optional fault rate: what the soak and kill matrix drive."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deployer.aws import AwsContext
from deployer.checks.alarms import CloudWatchAlarms
from deployer.core.ports import TrafficTarget
from deployer.core.record import RunRecord
from deployer.core.signals import StopSignal
from deployer.demo.ecs_world import EcsWorld, create_ecs_world
from deployer.demo.world import LambdaWorld, create_lambda_world
from deployer.engine.controller import Controller, Parts, Timings
from deployer.plan.compile import baked_seconds, compile_strategy
from deployer.plan.model import ChecksSpec, EcsTarget, LambdaTarget, StrategySpec
from deployer.targets.ecs_alb import EcsAlbTarget
from deployer.targets.lambda_alias import LambdaAliasTarget
from strategies.presets import PRESETS
from strategies.steps import Step
from tests.fakes import FakeClock, InMemoryStore, NullObserver, RecordingNotifier
from tests.faults import FaultInjector

STRATEGIES: list[dict[str, Any]] = [
    {"canary": {"weight": 10, "bake": 300}},
    {"linear": {"step": 25, "every": 120}},
    {"all_at_once": {}},
    {"blue_green": {"preview": 20, "preview_for": 300}},
    {"steps": [{"shift": 5}, {"bake": 120}, {"approve": {"timeout": 600,
                                                        "on_timeout": "promote"}},
               {"shift": 50}, {"bake": 60}, {"shift": 100}]},
    {"blue_green": {"approve": {"timeout": 300, "on_timeout": "promote"}}},
    {"steps": [{"approve": {"timeout": 120, "on_timeout": "promote"}}, {"shift": 30},
               {"bake": 60}, {"shift": 100}, {"bake": 120}]},
    *({"preset": name} for name in sorted(PRESETS)),
]
POLL = 30.0  # fewer ticks for long presets; reaction is still within one poll
FINAL_BAKE = 60.0


@dataclass
class Scenario:
    seed: int
    kind: str
    strategy: dict[str, Any]
    alarm_at: float | None
    steps: tuple[Step, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.steps = compile_strategy(StrategySpec.model_validate(self.strategy))

    @classmethod
    def draw(cls, seed: int) -> Scenario:
        rng = random.Random(seed)
        kind = ("lambda", "ecs", "app")[seed % 3]  # "app": 3 targets in 2 waves
        strategy = STRATEGIES[(seed // 3) % len(STRATEGIES)]
        total = baked_seconds(compile_strategy(StrategySpec.model_validate(strategy)))
        waves = len(APP_WAVES) if kind == "app" else 1
        alarm_at = rng.uniform(1, waves * (total + FINAL_BAKE) - 1) if seed % 2 else None
        return cls(seed, kind, strategy, alarm_at)


@dataclass
class World:
    traffic: Callable[[], str]   # "new" | "stable" | "split: ..."
    alarm: Callable[[], None]
    target: TrafficTarget
    aws: AwsContext
    alarms: list[str]
    # a new controller's target from the stored record's `target` (after a kill)
    rebuild: Callable[[dict[str, Any]], TrafficTarget] | None = None


APP_WAVES = [["a", "b"], ["c"]]


def build_world(scenario: Scenario, label: str, aws: AwsContext, clock: FakeClock) -> World:
    name = f"s{scenario.seed}{label}"
    if scenario.kind == "app":
        return _application(scenario, label, aws, clock)
    if scenario.kind == "lambda":
        lam: LambdaWorld = create_lambda_world(None, function=name,  # type: ignore[arg-type]
                                               alarms=(f"{name}-alarm",))

        def lambda_traffic() -> str:
            version, weights = lam.alias_state()
            if weights:
                return f"split: {version} {weights}"
            return "new" if version == lam.new else "stable" if version == lam.stable else version

        target: TrafficTarget = LambdaAliasTarget(
            LambdaTarget(function=name, alias="live", version=lam.new), aws, clock)
        return World(lambda_traffic, lambda: lam.set_alarm(lam.alarms[0], "ALARM"), target,
                     aws, list(lam.alarms))
    ecs: EcsWorld = create_ecs_world(None, name=name, alarms=(f"{name}-alarm",))  # type: ignore[arg-type]

    def ecs_traffic() -> str:
        weights = ecs.weights()
        if weights == {"blue": 100, "green": 0}:
            return "stable"
        return "new" if weights == {"blue": 0, "green": 100} else f"split: {weights}"

    spec = EcsTarget.model_validate({
        "cluster": name, "services": {"blue": ecs.blue, "green": ecs.green},
        "listener": ecs.listener, "image": {"container": "app", "uri": f"registry/{name}:2"}})
    return World(ecs_traffic, lambda: ecs.set_alarm(ecs.alarms[0], "ALARM"),
                 EcsAlbTarget(spec, aws, clock), aws, list(ecs.alarms))


def run_scenario(scenario: Scenario, fault_rate: float, label: str
                 ) -> tuple[RunRecord, World, FaultInjector]:
    aws = AwsContext(region="us-east-1", sleep=lambda seconds: None, botocore_attempts=1)
    clock = FakeClock()
    world = build_world(scenario, label, aws, clock)
    faults = FaultInjector(fault_rate, scenario.seed)
    for service in ("lambda", "cloudwatch", "elbv2", "ecs"):
        faults.attach(aws.client(service))
    if scenario.alarm_at is not None:
        clock.at(scenario.alarm_at, world.alarm)
    store = InMemoryStore()
    record = RunRecord(run_id=f"run-{scenario.seed}-{label}", plan_name="soak",
                       target_key=f"k-{scenario.seed}-{label}", target={}, plan={},
                       started_at="t")
    store.create(record)
    check = CloudWatchAlarms(ChecksSpec(alarms=world.alarms, poll_every=POLL), aws)
    parts = Parts(world.target, check, [], [], store, clock, RecordingNotifier(),
                  NullObserver())
    result = Controller(record, scenario.steps, Timings(POLL, FINAL_BAKE, 0), parts,
                        StopSignal()).run()
    return result, world, faults


def _application(scenario: Scenario, label: str, aws: AwsContext, clock: FakeClock) -> World:
    """Three targets in two waves: two Lambda aliases, then an ECS service."""
    from deployer.engine.fleet import Fleet, FleetLeg

    kinds = {"a": "lambda", "b": "lambda", "c": "ecs"}
    worlds = {leg: build_world(Scenario(scenario.seed, kind, scenario.strategy, None),
                               f"{label}{leg}", aws, clock) for leg, kind in kinds.items()}
    wave_of = {name: index for index, wave in enumerate(APP_WAVES) for name in wave}

    def fleet(state: dict[str, Any] | None) -> Fleet:
        legs = []
        for leg, world in worlds.items():
            spec = world.target.spec  # type: ignore[attr-defined]
            leg_state = ((state or {}).get("targets") or {}).get(leg)
            legs.append(FleetLeg(leg, wave_of[leg], type(world.target)(spec, aws, clock,
                                                                       leg_state)))
        return Fleet(legs, APP_WAVES, state)

    def traffic() -> str:
        states = {leg: world.traffic() for leg, world in worlds.items()}
        values = set(states.values())
        return values.pop() if len(values) == 1 else f"split: {states}"

    return World(traffic, worlds["c"].alarm, fleet(None), aws,
                 [a for world in worlds.values() for a in world.alarms], rebuild=fleet)
