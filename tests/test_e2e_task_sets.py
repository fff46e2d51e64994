"""ECS with one service (SPEC §9) through the real CLI against a ThreadedMotoServer on
127.0.0.1. moto runs no tasks (CreateTaskSet's RunTask is switched off in
deployer/demo/server.py) and reports task sets STEADY_STATE; the world's registered IP
targets make the groups healthy."""

from __future__ import annotations

import itertools
import json
import signal
from pathlib import Path

from deployer.demo.ecs_world import EcsWorld, create_ecs_world
from tests.e2e import Cli, finish, wait_until

NAMES = (f"ts{i}" for i in itertools.count())

PLAN = """\
version: 1
name: {name}
target:
  ecs:
    cluster: {world.cluster}
    service: {world.service_name}
    target_groups: {{blue: {name}-blue, green: {name}-green}}
    listener: {world.listener}
    image: {{container: app, uri: "registry.example/{name}:{tag}"}}
strategy:
  {strategy}
keep_old_for: 1m
checks: {{alarms: [{name}-5xx], poll_every: 5s}}
"""


def world_and_plan(endpoint: str, tmp_path: Path, tag: str = "2",
                   strategy: str = "linear: {step: 50, every: 1m}",
                   controller: str | None = None) -> tuple[EcsWorld, str]:
    name = next(NAMES)
    world = create_ecs_world(endpoint, name=name, alarms=(f"{name}-5xx",), task_sets=True,
                             controller=controller)
    path = tmp_path / f"{name}.yaml"
    path.write_text(PLAN.format(name=name, world=world, tag=tag, strategy=strategy))
    return world, str(path)


def test_a_linear_release_leaves_the_new_task_set_primary(endpoint: str, tmp_path: Path,
                                                          cli: Cli) -> None:
    world, plan = world_and_plan(endpoint, tmp_path)
    (first,) = world.task_sets()
    code, _, err = finish(cli.rollout(plan))
    assert code == 0, err
    assert world.weights() == {"blue": 0, "green": 100}
    (only,) = world.task_sets()
    assert (only["colour"], only["status"]) == ("green", "PRIMARY")
    report = cli.report_document()
    assert report["target"]["stable_task_set"] == first["arn"]
    assert report["target"]["new_task_set"] == only["arn"]
    shifted = [e["weight"] for e in report["events"] if e["message"].startswith("shifted")]
    assert shifted == [50, 100]
    status = cli.run("status", report["run_id"], "--json")
    assert json.loads(status.stdout)["target"]["new_task_set"] == only["arn"]
    text = cli.run("status", report["run_id"]).stdout
    assert f"task set {first['id'].rsplit('/', 1)[-1]} -> {only['id'].rsplit('/', 1)[-1]}" \
        in text


def test_an_alarm_deletes_the_new_task_set_and_keeps_the_primary(endpoint: str,
                                                                 tmp_path: Path,
                                                                 cli: Cli) -> None:
    world, plan = world_and_plan(endpoint, tmp_path,
                                 strategy="canary: {weight: 10, bake: 30m}")
    (first,) = world.task_sets()
    process = cli.rollout(plan)
    wait_until(lambda: world.weights() == {"blue": 90, "green": 10})
    world.set_alarm(world.alarms[0], "ALARM")
    code, _, err = finish(process)
    assert code == 3, err
    assert world.weights() == {"blue": 100, "green": 0}
    assert world.task_sets() == [first]  # stable untouched and PRIMARY, new one gone


def test_a_service_on_the_ecs_controller_is_refused(endpoint: str, tmp_path: Path,
                                                    cli: Cli) -> None:
    world, plan = world_and_plan(endpoint, tmp_path, controller="ECS")
    result = cli.run("rollout", plan)
    assert result.returncode == 5, result.stderr
    assert "uses the ECS deployment controller; a one-service plan needs EXTERNAL" \
        in result.stderr
    assert world.weights() == {"blue": 100, "green": 0}


def test_a_leftover_task_set_is_refused(endpoint: str, tmp_path: Path, cli: Cli) -> None:
    world, plan = world_and_plan(endpoint, tmp_path, strategy="canary: {weight: 10, bake: 30m}")
    process = cli.rollout(plan)
    wait_until(lambda: world.weights() == {"blue": 90, "green": 10})
    process.send_signal(signal.SIGKILL)  # dies: the new task set stays
    finish(process)
    leftover = next(t for t in world.task_sets() if t["status"] == "ACTIVE")
    cli.env["DEPLOYER_STORE"] = f"file://{tmp_path / 'another-store'}"
    from deployer.demo.world import client

    client("elbv2", world.endpoint, world.region).modify_listener(
        ListenerArn=world.listener, DefaultActions=[{"Type": "forward", "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": world.blue_group, "Weight": 100},
                             {"TargetGroupArn": world.green_group, "Weight": 0}]}}])
    result = cli.run("rollout", plan)
    assert result.returncode == 5, result.stderr
    assert f"besides its primary ({leftover['id']})" in result.stderr
    assert f"--task-set {leftover['id']}" in result.stderr


def test_a_killed_run_is_resumed_mid_shift(endpoint: str, tmp_path: Path, cli: Cli) -> None:
    world, plan = world_and_plan(endpoint, tmp_path, strategy="linear: {step: 25, every: 2m}")
    process = cli.rollout(plan)
    wait_until(lambda: world.weights() == {"blue": 75, "green": 25})
    process.send_signal(signal.SIGKILL)
    finish(process)
    listed = json.loads(cli.run("list", "--json").stdout)
    run_id = listed[0]["run_id"]
    resumer = cli.start("resume", run_id, "--force")

    def taken_over() -> bool:
        events = json.loads(cli.run("status", run_id, "--json").stdout)["events"]
        return any(e["message"].startswith("resuming in") for e in events)

    wait_until(taken_over, seconds=60)
    assert cli.run("promote", run_id, "--full").returncode == 0  # the rest: no wait
    code, _, err = finish(resumer, timeout=120)
    assert code == 0, err
    assert world.weights() == {"blue": 0, "green": 100}
    (only,) = world.task_sets()
    assert (only["colour"], only["status"]) == ("green", "PRIMARY")
