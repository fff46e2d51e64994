"""SPEC §6.6: throttling, 5xx and dropped connections are retried, and the outcome is the
same as without them. Real target, alarms and retry wrapper on moto in-process; faults
injected below botocore; FakeClock and a no-op retry sleep, so nothing waits."""

from __future__ import annotations

from typing import Any

import pytest

from deployer.aws import AwsContext
from deployer.checks.alarms import CloudWatchAlarms
from deployer.core.record import Outcome, RunRecord
from deployer.core.signals import StopSignal
from deployer.demo.world import create_lambda_world
from deployer.engine.controller import Controller, Parts, Timings
from deployer.plan.model import ChecksSpec, LambdaTarget
from deployer.targets.lambda_alias import LambdaAliasTarget
from strategies.linear import plan_linear
from tests.fakes import FakeClock, InMemoryStore, NullObserver, RecordingNotifier
from tests.faults import FaultInjector

pytestmark = pytest.mark.usefixtures("moto_aws")


def run_release(rate: float, seed: int, fire_alarm_at: float | None) -> tuple[RunRecord, Any,
                                                                             FaultInjector]:
    label = f"{seed}-{int(rate * 100)}"
    world = create_lambda_world(None, function=f"f{label}",  # type: ignore[arg-type]
                                alarms=(f"alarm-{label}",))
    aws = AwsContext(region="us-east-1", sleep=lambda seconds: None, botocore_attempts=1)
    faults = FaultInjector(rate, seed)
    faults.attach(aws.client("lambda"))
    faults.attach(aws.client("cloudwatch"))
    clock = FakeClock()
    target = LambdaAliasTarget(LambdaTarget(function=world.function, alias="live",
                                            version=world.new), aws, clock)
    check = CloudWatchAlarms(ChecksSpec(alarms=list(world.alarms), poll_every=10), aws)
    if fire_alarm_at is not None:
        clock.at(fire_alarm_at, lambda: world.set_alarm(world.alarms[0], "ALARM"))
    store = InMemoryStore()
    record = RunRecord(run_id=f"r-{seed}", plan_name="p", target_key=world.function,
                       target={}, plan={}, started_at="t")
    store.create(record)
    parts = Parts(target, check, [], [], store, clock, RecordingNotifier(), NullObserver())
    result = Controller(record, plan_linear(25, 60), Timings(10, 30, 0), parts,
                        StopSignal()).run()
    return result, world, faults


@pytest.mark.parametrize("fire_alarm_at", [None, 95.0])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_outcome_with_faults_equals_outcome_without(seed: int,
                                                    fire_alarm_at: float | None) -> None:
    clean, clean_world, _ = run_release(0.0, seed, fire_alarm_at)
    faulty, faulty_world, faults = run_release(0.3, seed, fire_alarm_at)
    assert sum(faults.injected.values()) > 5
    assert faulty.outcome == clean.outcome
    assert faulty.exit_code == clean.exit_code
    rename = (clean_world.alarms[0], faulty_world.alarms[0])
    expected_reason = clean.reason.replace(*rename) if clean.reason else None
    assert faulty.reason == expected_reason
    assert faulty.weight == clean.weight
    assert [e.weight for e in faulty.events if e.message.startswith("shifted")] == \
        [e.weight for e in clean.events if e.message.startswith("shifted")]
    for world in (clean_world, faulty_world):
        on = world.new if clean.outcome == Outcome.SUCCEEDED else world.stable
        assert world.alias_state() == (on, {})
