"""EcsTaskSetTarget (SPEC §9) against moto in-process: one service on the EXTERNAL
controller. moto runs no tasks (CreateTaskSet's RunTask is switched off, see
deployer/demo/server.py) and reports every task set STEADY_STATE; the IP targets the
world registers make the groups healthy."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from deployer.aws import AwsContext
from deployer.demo.ecs_world import EcsWorld, create_ecs_world
from deployer.errors import PreflightError
from deployer.plan.model import EcsTarget
from deployer.targets.ecs_task_sets import EcsTaskSetTarget
from tests.fakes import FakeClock

pytestmark = pytest.mark.usefixtures("moto_aws")


@pytest.fixture
def world() -> EcsWorld:
    return create_ecs_world(None, task_sets=True)  # type: ignore[arg-type]


def target_for(world: EcsWorld, **changes: Any) -> EcsTaskSetTarget:
    fields: dict[str, Any] = {
        "cluster": world.cluster, "service": world.service_name,
        "target_groups": {"blue": f"{world.cluster}-blue", "green": world.green_group},
        "listener": world.listener, "image": {"container": "app", "uri": "registry/shop:2"}}
    fields.update(changes)
    return EcsTaskSetTarget(EcsTarget.model_validate({k: v for k, v in fields.items()
                                                      if v is not None}),
                            AwsContext(), FakeClock())


def test_a_release_creates_a_task_set_on_the_idle_group_and_makes_it_primary(
        world: EcsWorld) -> None:
    target = target_for(world)
    target.preflight(resuming=False)
    assert (target.live, target.idle) == ("blue", "green")  # names resolved to ARNs
    (first,) = world.task_sets()
    target.prepare()
    sets = {t["colour"]: t for t in world.task_sets()}
    assert sets["blue"]["status"] == "PRIMARY" and sets["green"]["status"] == "ACTIVE"
    created = boto3.client("ecs").describe_task_sets(
        cluster=world.cluster, service=world.service_name,
        taskSets=[sets["green"]["arn"]])["taskSets"][0]
    assert created["launchType"] == "FARGATE"
    assert created["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"]
    assert created["scale"] == {"value": 100.0, "unit": "PERCENT"}
    assert created["taskDefinition"] != first["task_definition"]
    assert target.shift(50).new_weight == 50
    assert world.weights() == {"blue": 50, "green": 50}
    target.shift(100)
    target.retire_old()
    (only,) = world.task_sets()
    assert (only["colour"], only["status"]) == ("green", "PRIMARY")
    target.retire_old()  # a resumed run repeating it changes nothing
    described = target.describe()
    assert described["stable_task_set"] == first["arn"]
    assert described["new_task_set"] == only["arn"]


def test_a_rollback_deletes_the_new_task_set_and_leaves_the_primary(world: EcsWorld) -> None:
    target = target_for(world, test_listener=world.test_listener)
    target.preflight(resuming=False)
    target.prepare()
    target.shift(10)
    assert target.rollback().new_weight == 0
    deletes: list[dict[str, object]] = []
    delete = target.ecs.delete_task_set

    def recorded(**kwargs: object) -> object:
        deletes.append(kwargs)
        return delete(**kwargs)

    target.ecs.delete_task_set = recorded
    target.discard_new()
    target.discard_new()  # idempotent
    # AWS refuses to delete a task set still scaled above 0 without force (moto does not).
    assert deletes and all(call["force"] is True for call in deletes)
    (only,) = world.task_sets()
    assert (only["colour"], only["status"]) == ("blue", "PRIMARY")
    assert world.weights() == {"blue": 100, "green": 0}
    assert world.weights(world.test_listener) == {"blue": 100, "green": 0}


@pytest.mark.parametrize("controller", ["ECS", "CODE_DEPLOY"])
def test_a_service_on_another_controller_is_refused(controller: str) -> None:
    world = create_ecs_world(None, name="other", task_sets=True,  # type: ignore[arg-type]
                             controller=controller)
    with pytest.raises(PreflightError) as caught:
        target_for(world).preflight(resuming=False)
    assert "needs EXTERNAL" in caught.value.message
    assert "deploymentController EXTERNAL" in (caught.value.hint or "")


def test_a_leftover_task_set_is_refused_with_the_command_that_cleans_it_up(world: EcsWorld
                                                                           ) -> None:
    target = target_for(world)
    target.preflight(resuming=False)
    target.prepare()  # and the run died: the new task set stays ACTIVE
    leftover = next(t for t in world.task_sets() if t["status"] == "ACTIVE")
    with pytest.raises(PreflightError, match=f"besides its primary \\({leftover['id']}\\)") \
            as caught:
        target_for(world).preflight(resuming=False)
    assert f"aws ecs delete-task-set --cluster {world.cluster} --service " \
           f"{world.service_name} --task-set {leftover['id']}" in (caught.value.hint or "")


def test_unknown_target_group_names_are_refused(world: EcsWorld) -> None:
    with pytest.raises(PreflightError, match="target group not found: nope"):
        target_for(world, target_groups={"blue": "nope", "green": world.green_group}
                   ).preflight(resuming=False)
