"""EC2 Auto Scaling blue/green end to end (SPEC §15): the real CLI against a
ThreadedMotoServer. moto launches instances InService and healthy at once and
registers them in the group's target group; it does not deregister them when a group
scales to 0 (AWS does), so "scaled down" is read from the group's capacity."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from deployer.demo.more_worlds import AsgWorld, create_asg_world
from deployer.demo.world import client
from tests.asg_moto import instance_versions  # noqa: F401  (moto: launched versions)
from tests.e2e import Cli, finish, wait_until

NAMES = (f"web{i}" for i in itertools.count())

PLAN = """\
version: 1
name: {name}
target:
  asg:
    groups: {{blue: {blue}, green: {green}}}
    listener: {listener}
    test_listener: {test_listener}
    launch_template: {{name: {template}, version: "2"}}
strategy: {{canary: {{weight: 10, bake: {bake}}}}}
checks: {{alarms: [{alarm}], poll_every: 5s}}
keep_old_for: 10s
hooks:
  before_traffic:
    - command: [sh, -c, 'echo "$DEPLOYER_NEW_GROUP $DEPLOYER_NEW_VERSION" > {seen}']
"""


@pytest.fixture
def world(endpoint: str) -> AsgWorld:
    name = next(NAMES)
    return create_asg_world(endpoint, name=name, alarms=(f"{name}-5xx",))


@pytest.fixture
def plan_for(tmp_path: Path) -> Callable[..., str]:
    def write(world: AsgWorld, bake: str = "20s") -> str:
        path = tmp_path / "plan.yaml"
        path.write_text(PLAN.format(name=world.blue.removesuffix("-blue"), blue=world.blue,
                                    green=world.green, listener=world.listener,
                                    test_listener=world.test_listener, template=world.template,
                                    bake=bake, alarm=world.alarms[0],
                                    seen=tmp_path / "seen.txt"))
        return str(path)

    return write


def test_a_canary_moves_traffic_to_the_new_group_and_retires_the_old(
        world: AsgWorld, plan_for: Callable[..., str], cli: Cli, tmp_path: Path) -> None:
    code, _, err = finish(cli.rollout(plan_for(world)))
    assert code == 0, err
    assert world.weights() == {"blue": 0, "green": 100}
    green = world.group("green")
    assert green["DesiredCapacity"] == 2
    assert green["LaunchTemplate"]["Version"] == "2"
    assert world.capacity("blue") == 0  # retired after keep_old_for
    # The hook saw the new group before any production traffic, on the new version.
    assert (tmp_path / "seen.txt").read_text().split() == [world.green, f"{world.template}:2"]
    report = cli.report_document()
    assert report["target"]["kind"] == "asg"
    assert (report["target"]["stable_version"], report["target"]["new_version"]) == \
        (f"{world.template}:1", f"{world.template}:2")
    shifted = [e["message"] for e in report["events"] if e["message"].startswith("shifted")]
    assert shifted[0].startswith("shifted to 10% (read back: 10% on green")
    status = cli.run("status", report["run_id"])
    assert f"asg {world.blue} -> {world.green} ({world.template}:2)" in status.stdout


def test_an_alarm_rolls_back_and_scales_the_new_group_to_zero(
        world: AsgWorld, plan_for: Callable[..., str], cli: Cli) -> None:
    process = cli.rollout(plan_for(world, bake="10m"))
    wait_until(lambda: world.weights() == {"blue": 90, "green": 10})
    world.set_alarm(world.alarms[0], "ALARM")
    code, _, err = finish(process)
    assert code == 3, err
    assert world.weights() == {"blue": 100, "green": 0}
    assert world.capacity("green") == 0 and world.capacity("blue") == 2
    # the test listener is back on the stable group too
    elbv2 = client("elbv2", world.endpoint, world.region)
    test = elbv2.describe_listeners(ListenerArns=[world.test_listener])["Listeners"][0]
    groups = test["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    assert {g["TargetGroupArn"]: g["Weight"] for g in groups}[world.blue_group] == 100


def test_groups_that_are_not_one_target_group_each_are_refused(
        world: AsgWorld, plan_for: Callable[..., str], cli: Cli) -> None:
    elbv2 = client("elbv2", world.endpoint, world.region)
    spare = elbv2.describe_target_groups(TargetGroupArns=[world.blue_group])["TargetGroups"][0]
    extra = elbv2.create_target_group(Name=f"{world.blue}-x", Protocol="HTTP", Port=80,
                                      VpcId=spare["VpcId"], TargetType="instance")[
        "TargetGroups"][0]["TargetGroupArn"]
    autoscaling = client("autoscaling", world.endpoint, world.region)
    autoscaling.attach_load_balancer_target_groups(AutoScalingGroupName=world.green,
                                                   TargetGroupARNs=[extra])
    result = cli.run("rollout", plan_for(world), "--time-scale", "20")
    assert result.returncode == 5, result.stderr
    assert f"Auto Scaling group {world.green} is attached to 2 target groups" in result.stderr
    assert "attach each group to its own target group" in result.stderr
    assert world.weights() == {"blue": 100, "green": 0} and world.capacity("green") == 0


def test_a_listener_that_does_not_forward_to_a_group_is_refused(
        world: AsgWorld, plan_for: Callable[..., str], cli: Cli) -> None:
    elbv2 = client("elbv2", world.endpoint, world.region)
    elbv2.modify_listener(ListenerArn=world.listener, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": world.blue_group}])
    result = cli.run("rollout", plan_for(world), "--time-scale", "20")
    assert result.returncode == 5, result.stderr
    assert "forwards to target groups that are not exactly the two Auto Scaling groups' " \
        "target groups (missing the green group)" in result.stderr
    report = json.loads(cli.report.read_text()) if cli.report.exists() else {}
    assert report.get("outcome") in (None, "refused")


def test_an_emergency_rollback_after_success_scales_the_old_group_back_first(
        world: AsgWorld, plan_for: Callable[..., str], cli: Cli) -> None:
    plan = plan_for(world, bake="5s")
    code, _, err = finish(cli.rollout(plan))
    assert code == 0, err
    assert world.capacity("blue") == 0 and world.weights() == {"blue": 0, "green": 100}
    result = cli.run("rollback", plan)
    assert result.returncode == 0, result.stderr
    assert world.capacity("blue") == 2  # back in service before any traffic moved to it
    assert world.weights() == {"blue": 100, "green": 0}
    assert world.capacity("green") == 0  # the version rolled away from released its hosts
