"""EcsAlbTarget against moto in-process.

moto workarounds, each where it is used: moto launches no tasks, but
UpdateService(desiredCount=N) sets runningCount=N at once, which is what the
stability check reads; IP targets registered in a group are `healthy` at once,
so the world registers them up front (real ECS registers its tasks itself).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from deployer.aws import AwsContext
from deployer.demo.ecs_world import EcsWorld, create_ecs_world
from deployer.errors import NewVersionUnhealthy, PreflightError
from deployer.plan.model import EcsTarget
from deployer.targets.alb_weights import alb_weights
from deployer.targets.ecs_alb import EcsAlbTarget
from tests.fakes import FakeClock

pytestmark = pytest.mark.usefixtures("moto_aws")


@pytest.fixture
def world() -> EcsWorld:
    return create_ecs_world(None)  # type: ignore[arg-type]


def target_for(world: EcsWorld, **changes: Any) -> EcsAlbTarget:
    fields: dict[str, Any] = {
        "cluster": world.cluster, "services": {"blue": world.blue, "green": world.green},
        "listener": world.listener, "image": {"container": "app", "uri": "registry/shop:2"}}
    fields.update(changes)
    for key in [k for k, v in fields.items() if v is None]:
        del fields[key]
    return EcsAlbTarget(EcsTarget.model_validate(fields), AwsContext(), FakeClock())


def ready(world: EcsWorld, **changes: Any) -> EcsAlbTarget:
    target = target_for(world, **changes)
    target.preflight(resuming=False)
    target.prepare()
    return target


@pytest.mark.parametrize(("percent", "weights"), [
    (10, (10, 90)), (100, (100, 0)), (12.5, (125, 875)), (0.1, (1, 999)), (99.9, (999, 1))])
def test_alb_weights_stay_within_0_999(percent: float, weights: tuple[int, int]) -> None:
    assert alb_weights(percent) == weights


def test_preflight_finds_the_live_colour_from_aws(world: EcsWorld) -> None:
    target = target_for(world)
    target.preflight(resuming=False)
    described = target.describe()
    assert (described["stable_colour"], described["new_colour"]) == ("blue", "green")
    assert described["desired_count"] == 2
    assert described["stable_version"] == "shop:1"
    assert not target.already_done()


def test_prepare_clones_the_task_definition_and_deploys_the_idle_colour(world: EcsWorld
                                                                        ) -> None:
    target = ready(world, test_listener=world.test_listener)
    new = target.describe()["new_task_definition"]
    ecs = boto3.client("ecs")
    old_def = ecs.describe_task_definition(taskDefinition=world.task_definition,
                                           include=["TAGS"])
    new_def = ecs.describe_task_definition(taskDefinition=new, include=["TAGS"])
    (old_container,), (new_container,) = (old_def["taskDefinition"]["containerDefinitions"],
                                          new_def["taskDefinition"]["containerDefinitions"])
    assert new_container["image"] == "registry/shop:2"
    assert {**new_container, "image": old_container["image"]} == old_container
    for key in ("cpu", "memory", "executionRoleArn", "networkMode", "requiresCompatibilities"):
        assert new_def["taskDefinition"][key] == old_def["taskDefinition"][key]
    assert new_def["tags"] == [{"key": "team", "value": "shop"}]
    green = world.service("green")
    assert (green["taskDefinition"], green["desiredCount"]) == (new, 2)
    assert world.service("blue")["taskDefinition"] == world.task_definition
    assert world.weights(world.test_listener) == {"blue": 0, "green": 100}
    assert world.weights() == {"blue": 100, "green": 0}


def test_shift_read_back_and_rollback(world: EcsWorld) -> None:
    target = ready(world)
    assert target.shift(25).new_weight == 25
    assert world.weights() == {"blue": 75, "green": 25}
    assert target.shift(100).new_weight == 100
    assert target.rollback().new_weight == 0
    assert world.weights() == {"blue": 100, "green": 0}
    target.discard_new()
    assert world.service("green")["desiredCount"] == 0
    blue = world.service("blue")
    assert (blue["desiredCount"], blue["taskDefinition"]) == (2, world.task_definition)


def test_writes_preserve_stickiness_and_order(world: EcsWorld) -> None:
    elbv2 = boto3.client("elbv2")
    sticky = {"Enabled": True, "DurationSeconds": 3600}
    elbv2.modify_listener(ListenerArn=world.listener, DefaultActions=[{
        "Type": "forward", "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": world.green_group, "Weight": 0},
                             {"TargetGroupArn": world.blue_group, "Weight": 100}],
            "TargetGroupStickinessConfig": sticky}}])
    target = ready(world)
    target.shift(40)
    (action,) = elbv2.describe_listeners(ListenerArns=[world.listener])["Listeners"][0][
        "DefaultActions"]
    assert action["ForwardConfig"]["TargetGroupStickinessConfig"] == sticky
    assert [(g["TargetGroupArn"], g["Weight"]) for g in action["ForwardConfig"]["TargetGroups"]
            ] == [(world.green_group, 40), (world.blue_group, 60)]


def test_a_listener_rule_works_like_a_listener(world: EcsWorld) -> None:
    target = ready(world, listener=None, rule=world.rule)
    target.shift(50)
    assert world.weights(world.rule) == {"blue": 50, "green": 50}
    assert world.weights() == {"blue": 100, "green": 0}  # the default action is untouched


def test_retire_scales_the_old_colour_to_zero(world: EcsWorld) -> None:
    target = ready(world)
    target.shift(100)
    target.retire_old()
    assert world.service("blue")["desiredCount"] == 0
    assert world.service("green")["desiredCount"] == 2


def test_colours_alternate_on_the_next_release(world: EcsWorld) -> None:
    ready(world).shift(100)
    second = target_for(world, image={"container": "app", "uri": "registry/shop:3"})
    second.preflight(resuming=False)
    assert (second.live, second.idle) == ("green", "blue")


def test_split_listener_is_refused_and_left_alone(world: EcsWorld) -> None:
    ready(world).shift(30)
    with pytest.raises(PreflightError, match=r"is split \(blue 70, green 30\)"):
        target_for(world).preflight(resuming=False)
    assert world.weights() == {"blue": 70, "green": 30}


def test_listener_forwarding_elsewhere_is_refused(world: EcsWorld) -> None:
    elbv2 = boto3.client("elbv2")
    other = elbv2.create_target_group(Name="other", Protocol="HTTP", Port=80,
                                      VpcId=elbv2.describe_target_groups(
                                          TargetGroupArns=[world.blue_group])[
                                          "TargetGroups"][0]["VpcId"],
                                      TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.modify_listener(ListenerArn=world.listener, DefaultActions=[
        {"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": world.blue_group, "Weight": 100},
            {"TargetGroupArn": other, "Weight": 0}]}}])
    with pytest.raises(PreflightError, match=r"not exactly the blue and green services' "
                                             r"groups \(missing the green group; also "
                                             r"forwards to targetgroup/other/"):
        target_for(world).preflight(resuming=False)


def test_a_listener_forwarding_to_one_group_only_is_refused_with_a_fix(world: EcsWorld
                                                                        ) -> None:
    boto3.client("elbv2").modify_listener(ListenerArn=world.listener, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": world.blue_group}])
    with pytest.raises(PreflightError, match="missing the green group") as caught:
        target_for(world).preflight(resuming=False)
    assert "weight 0" in (caught.value.hint or "")


def test_services_may_be_named_by_arn(world: EcsWorld) -> None:
    arns = {colour: world.service(colour)["serviceArn"] for colour in ("blue", "green")}
    target = ready(world, services=arns)
    assert target.shift(50).new_weight == 50


@pytest.mark.parametrize(("changes", "message"), [
    ({"services": {"blue": "shop-blue", "green": "nope"}}, "service nope not found"),
    ({"cluster": "nocluster"}, "(cluster nocluster does not exist|not found)"),
    ({"image": {"container": "web", "uri": "x:1"}}, "has no container 'web'"),
    ({"image": None, "task_definition": "nosuch:9"}, "task definition nosuch:9 does not exist"),
])
def test_preflight_refusals(world: EcsWorld, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(PreflightError, match=message):
        target_for(world, **changes).preflight(resuming=False)


def test_same_image_is_already_done(world: EcsWorld) -> None:
    target = target_for(world, image={"container": "app", "uri": "registry.example/shop:1"})
    target.preflight(resuming=False)
    assert target.already_done()


def test_unhealthy_idle_colour_times_out(world: EcsWorld) -> None:
    target = target_for(world, healthy_within="1m")
    target.preflight(resuming=False)
    target.desired = 5  # only 2 targets are registered in the green group
    with pytest.raises(NewVersionUnhealthy,
                       match="not stable and healthy within 60s: 2/5 targets"):
        target.prepare()


@pytest.mark.parametrize(("controller", "advice"), [
    ("CODE_DEPLOY", "can only be changed by CodeDeploy"),
    ("EXTERNAL", "released by task sets")])
def test_services_on_another_deployment_controller_are_refused(controller: str,
                                                               advice: str) -> None:
    # Real UpdateService refuses task-definition changes on these services; moto accepts
    # them, so the refusal must come from preflight, before anything is changed.
    world = create_ecs_world(None, name="cd", controller=controller)  # type: ignore[arg-type]
    target = target_for(world)
    with pytest.raises(PreflightError, match=f"service cd-blue uses the {controller} "
                                             "deployment controller") as caught:
        target.preflight(resuming=False)
    assert advice in (caught.value.hint or "")
    assert world.service("green")["desiredCount"] == 0
    assert world.service("green")["taskDefinition"] == world.task_definition


def test_a_failing_hook_before_traffic_leaves_test_traffic_on_stable(world: EcsWorld) -> None:
    """prepare() pointed the test listener at the new colour; production never moved.
    discard_new() (what the controller calls after such a rollback) puts it back."""
    target = ready(world, test_listener=world.test_listener)
    assert world.weights(world.test_listener) == {"blue": 0, "green": 100}
    target.discard_new()
    assert world.weights(world.test_listener) == {"blue": 100, "green": 0}
    assert world.weights() == {"blue": 100, "green": 0}
    assert world.service("green")["desiredCount"] == 0


def test_a_test_rule_carries_test_traffic_like_a_test_listener(world: EcsWorld) -> None:
    target = ready(world, test_rule=world.rule)
    assert world.weights(world.rule) == {"blue": 0, "green": 100}
    assert world.weights() == {"blue": 100, "green": 0}
    assert target.hook_context()["DEPLOYER_TEST_RULE"] == world.rule
    target.shift(10)
    assert target.rollback().new_weight == 0
    assert world.weights(world.rule) == {"blue": 100, "green": 0}


def test_listeners_and_rules_are_named_by_their_own_id(world: EcsWorld) -> None:
    boto3.client("elbv2").modify_listener(ListenerArn=world.listener, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": world.blue_group}])
    with pytest.raises(PreflightError) as caught:
        target_for(world).preflight(resuming=False)
    listener_id = world.listener.rsplit("/", 1)[-1]
    assert caught.value.message.startswith(f"listener {listener_id} (port 80) forwards")
    boto3.client("elbv2").modify_rule(RuleArn=world.rule, Actions=[
        {"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": world.blue_group, "Weight": 60},
            {"TargetGroupArn": world.green_group, "Weight": 40}]}}])
    with pytest.raises(PreflightError) as caught:
        target_for(world, listener=None, rule=world.rule).preflight(resuming=False)
    assert caught.value.message.startswith(
        f"rule {world.rule.rsplit('/', 1)[-1]} (on listener {listener_id}) is split")


def test_a_listener_reset_to_a_colour_with_no_tasks_names_the_rollback(world: EcsWorld
                                                                       ) -> None:
    """What a `terraform apply` does after a release to green: the forward action goes
    back to blue, which keep_old_for has since scaled to 0."""
    ready(world).shift(100)
    ecs = boto3.client("ecs")
    ecs.update_service(cluster=world.cluster, service=world.blue, desiredCount=0)
    boto3.client("elbv2").modify_listener(ListenerArn=world.listener, DefaultActions=[
        {"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": world.blue_group, "Weight": 100},
            {"TargetGroupArn": world.green_group, "Weight": 0}]}}])
    with pytest.raises(PreflightError, match=r"sends all traffic to blue .* desiredCount 0; "
                                             r"green .* has 2 tasks") as caught:
        target_for(world, image={"container": "app", "uri": "registry/shop:3"}
                   ).preflight(resuming=False)
    assert "deployer rollback PLAN --to green" in (caught.value.hint or "")


def test_a_listener_changed_since_the_last_write_is_drift_not_overwritten(world: EcsWorld
                                                                        ) -> None:
    from deployer.errors import Drift

    target = ready(world)
    target.shift(10)
    boto3.client("elbv2").modify_listener(ListenerArn=world.listener, DefaultActions=[
        {"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": world.blue_group, "Weight": 70},
            {"TargetGroupArn": world.green_group, "Weight": 30}]}}])
    with pytest.raises(Drift, match=r"reads shop-blue 70, shop-green 30 but deployer last set "
                                    r"shop-green 10, shop-blue 90"):
        target.shift(50)
    assert world.weights() == {"blue": 70, "green": 30}  # not fought
