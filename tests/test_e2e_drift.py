"""Someone else touches the traffic mid-run (SPEC §6.1), or deletes what the run works
on: a clear outcome every time, never a traceback, and an outsider's change left alone.
The real CLI against a ThreadedMotoServer."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from deployer.demo.ecs_world import EcsWorld, create_ecs_world
from deployer.demo.world import LambdaWorld, client, create_lambda_world
from tests.e2e import Cli, finish, wait_until

NAMES = (f"dr{i}" for i in itertools.count())

LAMBDA_PLAN = """\
version: 1
name: {name}
target:
  lambda: {{function: {name}, alias: live, version: "{version}"}}
strategy:
  canary: {{weight: 10, bake: 30m}}
checks: {{alarms: [{alarm}], poll_every: 5s}}
"""

ECS_PLAN = """\
version: 1
name: {name}
target:
  ecs:
    cluster: {name}
    services: {{blue: {name}-blue, green: {name}-green}}
    listener: {listener}
    image: {{container: app, uri: "registry.example/{name}:2"}}
strategy:
  canary: {{weight: 10, bake: 30m}}
checks: {{alarms: [{alarm}], poll_every: 5s}}
"""


@pytest.fixture
def lambda_run(endpoint: str, tmp_path: Path, cli: Cli
               ) -> Callable[[], tuple[LambdaWorld, object]]:
    def start() -> tuple[LambdaWorld, object]:
        name = next(NAMES)
        world = create_lambda_world(endpoint, function=name, alarms=(f"{name}-errors",))
        plan = tmp_path / f"{name}.yaml"
        plan.write_text(LAMBDA_PLAN.format(name=name, version=world.new,
                                           alarm=world.alarms[0]))
        process = cli.rollout(str(plan))
        wait_until(lambda: world.alias_state() == (world.stable, {world.new: 0.1}))
        return world, process

    return start


@pytest.fixture
def ecs_run(endpoint: str, tmp_path: Path, cli: Cli) -> Callable[[], tuple[EcsWorld, object]]:
    def start() -> tuple[EcsWorld, object]:
        name = next(NAMES)
        world = create_ecs_world(endpoint, name=name, alarms=(f"{name}-5xx",))
        plan = tmp_path / f"{name}.yaml"
        plan.write_text(ECS_PLAN.format(name=name, listener=world.listener,
                                        alarm=world.alarms[0]))
        process = cli.rollout(str(plan))
        wait_until(lambda: world.weights() == {"blue": 90, "green": 10})
        return world, process

    return start


def outcome(process: object, cli: Cli) -> tuple[int, dict[str, object], str]:
    code, _, err = finish(process)  # type: ignore[arg-type]
    assert "Traceback" not in err
    return code, cli.report_document(), err


def test_alias_changed_from_outside_is_drift(lambda_run: Callable[..., tuple[LambdaWorld,
                                                                            object]],
                                             cli: Cli) -> None:
    world, process = lambda_run()
    client("lambda", world.endpoint, world.region).update_alias(
        FunctionName=world.function, Name="live",
        RoutingConfig={"AdditionalVersionWeights": {world.new: 0.5}})
    code, report, _ = outcome(process, cli)
    assert code == 6
    assert report["outcome"] == "failed"
    assert str(report["reason"]).startswith("drift: traffic now reads 50% on version")
    assert world.alias_state() == (world.stable, {world.new: 0.5})  # left alone


def test_listener_changed_from_outside_is_drift(ecs_run: Callable[..., tuple[EcsWorld,
                                                                            object]],
                                                cli: Cli) -> None:
    world, process = ecs_run()
    elbv2 = client("elbv2", world.endpoint, world.region)
    elbv2.modify_listener(ListenerArn=world.listener, DefaultActions=[
        {"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": world.blue_group, "Weight": 100},
            {"TargetGroupArn": world.green_group, "Weight": 0}]}}])
    code, report, _ = outcome(process, cli)
    assert code == 6
    assert str(report["reason"]).startswith("drift:")
    assert world.weights() == {"blue": 100, "green": 0}


def test_alias_deleted_mid_run(lambda_run: Callable[..., tuple[LambdaWorld, object]],
                               cli: Cli) -> None:
    world, process = lambda_run()
    client("lambda", world.endpoint, world.region).delete_alias(FunctionName=world.function,
                                                                Name="live")
    code, report, err = outcome(process, cli)
    assert code == 6
    assert "alias live of function" in str(report["reason"])
    assert "does not exist" in str(report["reason"])
    assert report["outcome"] in err


def test_listener_deleted_mid_run(ecs_run: Callable[..., tuple[EcsWorld, object]],
                                  cli: Cli) -> None:
    world, process = ecs_run()
    client("elbv2", world.endpoint, world.region).delete_listener(ListenerArn=world.listener)
    code, report, _ = outcome(process, cli)
    assert code == 6
    assert "does not exist" in str(report["reason"])


def test_alarm_deleted_mid_run_rolls_back(lambda_run: Callable[..., tuple[LambdaWorld,
                                                                         object]],
                                          cli: Cli) -> None:
    world, process = lambda_run()
    client("cloudwatch", world.endpoint, world.region).delete_alarms(
        AlarmNames=[world.alarms[0]])
    code, report, _ = outcome(process, cli)
    assert code == 3
    assert report["reason"] == f"alarm {world.alarms[0]} no longer exists"
    assert world.alias_state() == (world.stable, {})
