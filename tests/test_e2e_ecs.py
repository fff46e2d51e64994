"""ECS releases through the real CLI against a ThreadedMotoServer on 127.0.0.1.

moto launches no tasks: UpdateService(desiredCount=N) reports N running at once,
and the worlds register IP targets that moto reports healthy (real ECS registers
its tasks in the group itself)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from deployer.demo.ecs_world import EcsWorld, create_ecs_world
from deployer.demo.world import client
from tests.e2e import Cli, finish, wait_until

NAMES = (f"shop{i}" for i in itertools.count())

PLAN = """\
version: 1
name: {name}
target:
  ecs:
    cluster: {cluster}
    services: {{blue: {blue}, green: {green}}}
    listener: {listener}
    test_listener: {test_listener}
    image: {{container: app, uri: "{image}"}}
strategy:
{strategy}
final_bake: 30s
keep_old_for: 1m
checks: {{alarms: [{alarm}], poll_every: 5s}}
"""


@pytest.fixture
def world(endpoint: str) -> EcsWorld:
    name = next(NAMES)
    return create_ecs_world(endpoint, name=name, alarms=(f"{name}-5xx",))


@pytest.fixture
def plan_file(tmp_path: Path) -> Callable[..., str]:
    def write(world: EcsWorld, image: str, strategy: str = "  linear: {step: 25, every: 1m}"
              ) -> str:
        path = tmp_path / f"{world.cluster}-{image.rsplit(':', 1)[-1]}.yaml"
        path.write_text(PLAN.format(name=world.cluster, cluster=world.cluster, blue=world.blue,
                                    green=world.green, listener=world.listener,
                                    test_listener=world.test_listener, image=image,
                                    strategy=strategy, alarm=world.alarms[0]))
        return str(path)

    return write


class ListenerWatcher:
    """Polls the production listener while a run goes on; keeps each distinct state."""

    def __init__(self, world: EcsWorld) -> None:
        self.world = world
        self.seen: list[dict[str, int]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.stop.is_set():
            weights = self.world.weights()
            if not self.seen or self.seen[-1] != weights:
                self.seen.append(weights)
            self.stop.wait(0.03)

    def done(self) -> list[dict[str, int]]:
        self.stop.set()
        self.thread.join()
        return self.seen


def test_linear_release_then_an_alarm_rolls_the_next_one_back(
        world: EcsWorld, plan_file: Callable[..., str], cli: Cli) -> None:
    watcher = ListenerWatcher(world)
    code, _, err = finish(cli.rollout(plan_file(world, "registry.example/shop:2"),
                                      scale="30"))
    seen = watcher.done()
    assert code == 0, err
    assert [w["green"] for w in seen] == [0, 25, 50, 75, 100]
    assert world.service("blue")["desiredCount"] == 0  # old colour retired after keep_old
    green = world.service("green")
    assert green["desiredCount"] == 2
    ecs = client("ecs", world.endpoint, world.region)
    cloned = ecs.describe_task_definition(taskDefinition=green["taskDefinition"],
                                          include=["TAGS"])
    (container,) = cloned["taskDefinition"]["containerDefinitions"]
    assert container["image"] == "registry.example/shop:2"
    assert container["secrets"][0]["name"] == "DB_PASSWORD"
    assert container["environment"] == [{"name": "MODE", "value": "production"}]
    assert container["logConfiguration"]["logDriver"] == "awslogs"
    assert cloned["taskDefinition"]["executionRoleArn"].endswith(f"{world.cluster}-exec")
    assert cloned["tags"] == [{"key": "team", "value": "shop"}]
    report = cli.report_document()
    assert report["target"]["stable_colour"] == "blue"
    assert report["target"]["new_colour"] == "green"

    # The next release goes to the other colour (blue), and an alarm rolls it back.
    process = cli.rollout(plan_file(world, "registry.example/shop:3",
                                    "  canary: {weight: 10, bake: 30m}"))
    wait_until(lambda: world.weights() == {"blue": 10, "green": 90})
    world.set_alarm(world.alarms[0], "ALARM")
    code, _, err = finish(process)
    assert code == 3, err
    assert world.weights() == {"blue": 0, "green": 100}
    assert world.weights(world.test_listener) == {"blue": 0, "green": 100}
    assert world.service("blue")["desiredCount"] == 0  # the new colour scaled back down
    stable_after = world.service("green")  # the stable colour was never touched
    for key in ("taskDefinition", "desiredCount", "loadBalancers", "networkConfiguration"):
        assert stable_after[key] == green[key]
    report = cli.report_document()
    assert report["outcome"] == "rolled_back"
    assert report["target"]["new_colour"] == "blue"
    assert report["reason"] == f"alarm {world.alarms[0]} is in ALARM"


def test_split_listener_is_refused(world: EcsWorld, plan_file: Callable[..., str],
                                   cli: Cli) -> None:
    elbv2 = client("elbv2", world.endpoint, world.region)
    split = [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": world.blue_group, "Weight": 60},
        {"TargetGroupArn": world.green_group, "Weight": 40}]}}]
    elbv2.modify_listener(ListenerArn=world.listener, DefaultActions=split)
    result = cli.run("rollout", plan_file(world, "registry.example/shop:2"), "--report",
                     str(cli.report))
    assert result.returncode == 5, result.stderr
    assert "is split (blue 60, green 40)" in result.stderr
    assert world.weights() == {"blue": 60, "green": 40}
    assert world.service("green")["desiredCount"] == 0
    assert cli.report_document()["outcome"] == "refused"
