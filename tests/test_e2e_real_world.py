"""What public SAM / CodeDeploy / Terraform layouts broke, through the real CLI against a
ThreadedMotoServer on 127.0.0.1: hook answers in CodeDeploy's spelling, a deadline
during keep-old, test traffic after a rollback, services on another deployment
controller, the emergency rollback without the release's inputs, and a listener that
`terraform apply` reset.

moto runs no Lambda code: hook answers are queued with queue_lambda_answers. moto
launches no tasks: UpdateService(desiredCount=N) reports N running at once.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest

from deployer.demo.ecs_world import EcsWorld, create_ecs_world
from deployer.demo.world import LambdaWorld, client, create_lambda_world
from tests.conftest import queue_lambda_answers
from tests.e2e import Cli, finish

NAMES = (f"rw{i}" for i in itertools.count())

LAMBDA_PLAN = """\
version: 1
name: {name}
target:
  lambda: {{function: {name}, alias: live, version: "{version}"}}
strategy:
  {strategy}
checks: {{alarms: [{name}-errors], poll_every: 5s}}
{extra}
"""

ECS_PLAN = """\
version: 1
name: {name}
target:
  ecs:
    cluster: {world.cluster}
    services: {{blue: {world.blue}, green: {world.green}}}
    listener: {world.listener}
    {test_route}
    image: {{container: app, uri: "registry.example/{name}:${{IMAGE_TAG}}"}}
strategy:
  canary: {{weight: 10, bake: 1m}}
checks: {{alarms: [{name}-5xx], poll_every: 5s}}
{extra}
"""


@pytest.fixture
def lambda_world(endpoint: str) -> LambdaWorld:
    name = next(NAMES)
    return create_lambda_world(endpoint, function=name, alarms=(f"{name}-errors",))


@pytest.fixture
def ecs_world(endpoint: str) -> EcsWorld:
    name = next(NAMES)
    return create_ecs_world(endpoint, name=name, alarms=(f"{name}-5xx",))


def lambda_plan(tmp_path: Path, world: LambdaWorld, strategy: str = "canary: {weight: 10, "
                "bake: 1m}", extra: str = "", version: str | None = None) -> str:
    path = tmp_path / f"{world.function}.yaml"
    path.write_text(LAMBDA_PLAN.format(name=world.function, version=version or world.new,
                                       strategy=strategy, extra=extra))
    return str(path)


def ecs_plan(tmp_path: Path, world: EcsWorld, test_route: str = "", extra: str = "") -> str:
    path = tmp_path / f"{world.cluster}.yaml"
    path.write_text(ECS_PLAN.format(name=world.cluster, world=world, test_route=test_route,
                                    extra=extra))
    return str(path)


# ---------------------------------------------------------------- 1. hook answers

@pytest.mark.parametrize(("answer", "quoted"), [
    ({"hookStatus": "Failed"}, "hookStatus Failed"),
    ("Validation test failed", 'bare string, not an object with hookStatus: '
                               '"Validation test failed"'),
    ({"status": "ok"}, 'answer has no hookStatus: {"status": "ok"}'),
])
def test_a_hook_that_does_not_say_succeeded_rolls_back(
        endpoint: str, lambda_world: LambdaWorld, tmp_path: Path, cli: Cli,
        answer: object, quoted: str) -> None:
    smoke = f"{lambda_world.function}-smoke"
    create_lambda_world(endpoint, function=smoke, alarms=())
    queue_lambda_answers(answer)
    plan = lambda_plan(tmp_path, lambda_world, extra=f"hooks: {{before_traffic: "
                                                     f"[{{lambda: {smoke}}}]}}")
    code, _, err = finish(cli.rollout(plan))
    assert code == 3, err
    report = cli.report_document()
    assert report["outcome"] == "rolled_back"
    assert report["reason"].startswith(f"before_traffic hook lambda {smoke} failed: ")
    assert quoted in report["reason"]
    assert not [e for e in report["events"] if e["message"].startswith("shifted")]
    assert lambda_world.alias_state() == (lambda_world.stable, {})


def test_a_hook_answering_succeeded_in_codedeploys_spelling_passes(
        endpoint: str, lambda_world: LambdaWorld, tmp_path: Path, cli: Cli) -> None:
    smoke = f"{lambda_world.function}-smoke"
    create_lambda_world(endpoint, function=smoke, alarms=())
    queue_lambda_answers({"hookStatus": "Succeeded"})
    plan = lambda_plan(tmp_path, lambda_world, strategy="all_at_once: {}",
                       extra=f"hooks: {{after_traffic: [{{lambda: {smoke}}}]}}")
    code, _, err = finish(cli.rollout(plan))
    assert code == 0, err
    assert lambda_world.alias_state() == (lambda_world.new, {})


# ---------------------------------------------------------------- 2. deadline

def test_the_deadline_never_rolls_back_a_release_that_passed_its_final_bake(
        lambda_world: LambdaWorld, tmp_path: Path, cli: Cli) -> None:
    """5m of bakes, keep_old_for 10m, deadline 10m: done at 15m, and succeeded."""
    plan = lambda_plan(tmp_path, lambda_world, strategy="canary: {weight: 10, bake: 4m}",
                       extra="final_bake: 1m\nkeep_old_for: 10m\ndeadline: 10m")
    code, _, err = finish(cli.rollout(plan, scale="150"))
    assert code == 0, err
    report = cli.report_document()
    assert report["outcome"] == "succeeded"
    assert lambda_world.alias_state() == (lambda_world.new, {})


# ---------------------------------------------------------------- 3, 4, 7. ECS

@pytest.mark.parametrize("route", ["test_listener", "test_rule"])
def test_after_a_failing_hook_test_traffic_is_back_on_the_stable_colour(
        ecs_world: EcsWorld, tmp_path: Path, cli: Cli, route: str) -> None:
    arn = ecs_world.test_listener if route == "test_listener" else ecs_world.rule
    failing = "[python3, -c, 'raise SystemExit(1)']"
    plan = ecs_plan(tmp_path, ecs_world, test_route=f"{route}: {arn}",
                    extra=f"hooks: {{before_traffic: [{{command: {failing}}}]}}")
    cli.env["IMAGE_TAG"] = "2"
    code, _, err = finish(cli.rollout(plan))
    assert code == 3, err
    assert ecs_world.weights(arn) == {"blue": 100, "green": 0}
    assert ecs_world.weights() == {"blue": 100, "green": 0}
    assert ecs_world.service("green")["desiredCount"] == 0
    assert cli.report_document()["target"][route] == arn


def test_a_service_on_the_codedeploy_controller_is_refused(endpoint: str, tmp_path: Path,
                                                           cli: Cli) -> None:
    name = next(NAMES)
    world = create_ecs_world(endpoint, name=name, alarms=(f"{name}-5xx",),
                             controller="CODE_DEPLOY")
    cli.env["IMAGE_TAG"] = "2"
    result = cli.run("rollout", ecs_plan(tmp_path, world), "--report", str(cli.report))
    assert result.returncode == 5, result.stderr
    assert f"service {name}-blue uses the CODE_DEPLOY deployment controller" in result.stderr
    assert "two services on the ECS controller" in result.stderr
    assert cli.report_document()["outcome"] == "refused"
    assert world.service("green")["desiredCount"] == 0
    assert world.service("green")["taskDefinition"] == world.task_definition


@pytest.mark.slow  # make soak: keeps make test under 10 minutes
def test_a_listener_reset_by_terraform_is_refused_then_rolled_back_by_colour(
        ecs_world: EcsWorld, tmp_path: Path, cli: Cli) -> None:
    plan = ecs_plan(tmp_path, ecs_world, extra="keep_old_for: 1m")
    cli.env["IMAGE_TAG"] = "2"
    assert finish(cli.rollout(plan))[0] == 0  # green now serves; blue was scaled to 0
    assert ecs_world.service("blue")["desiredCount"] == 0
    elbv2 = client("elbv2", ecs_world.endpoint, ecs_world.region)
    elbv2.modify_listener(ListenerArn=ecs_world.listener, DefaultActions=[  # terraform apply
        {"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": ecs_world.blue_group, "Weight": 100},
            {"TargetGroupArn": ecs_world.green_group, "Weight": 0}]}}])
    cli.env["IMAGE_TAG"] = "3"
    refused = cli.run("rollout", plan)
    assert refused.returncode == 5, refused.stderr
    listener_id = ecs_world.listener.rsplit("/", 1)[-1]
    assert f"listener {listener_id} (port 80) sends all traffic to blue" in refused.stderr
    assert f"deployer rollback {plan} --to green" in refused.stderr

    # Without a store and without --to, AWS says: blue holds the weight but has no tasks.
    del cli.env["IMAGE_TAG"]
    cli.env["DEPLOYER_STORE"] = f"file://{tmp_path / 'lost'}"
    result = cli.run("rollback", plan)
    assert result.returncode == 0, result.stderr
    assert "-> green (AWS: blue holds the larger weight (blue 100, green 0) " \
           "but has no tasks; green has 2" in result.stdout
    assert ecs_world.weights() == {"blue": 0, "green": 100}


# ---------------------------------------------------------------- 5. emergency rollback

def test_emergency_rollback_without_the_releases_inputs(lambda_world: LambdaWorld,
                                                        tmp_path: Path, cli: Cli) -> None:
    plan = lambda_plan(tmp_path, lambda_world, strategy="all_at_once: {}",
                       version="${NEW_VERSION}")
    cli.env["NEW_VERSION"] = lambda_world.new
    assert finish(cli.rollout(plan))[0] == 0
    succeeded = cli.report_document()["run_id"]
    refused = cli.run("rollout", plan, "--set", "target.lambda.alias=nope")  # refused runs
    assert refused.returncode == 5                                           # don't count
    del cli.env["NEW_VERSION"]
    lam = client("lambda", lambda_world.endpoint, lambda_world.region)
    lam.update_alias(FunctionName=lambda_world.function, Name="live",  # someone splits it
                     RoutingConfig={"AdditionalVersionWeights": {lambda_world.stable: 0.3}})
    assert cli.run("validate", plan).returncode == 2  # the release itself needs NEW_VERSION

    result = cli.run("rollback", plan)
    assert result.returncode == 0, result.stderr
    # After a release that succeeded: back to the version it replaced.
    assert result.stdout.strip() == (
        f"{lambda_world.function}: 70% on version {lambda_world.new}, 30% on version "
        f"{lambda_world.stable} -> version {lambda_world.stable} (what run "
        f"{succeeded} (succeeded) replaced)")
    assert lambda_world.alias_state() == (lambda_world.stable, {})
    again = cli.run("rollback", plan, "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["targets"][0]["changed"] is False


def test_emergency_rollback_from_aws_when_no_run_knows(lambda_world: LambdaWorld,
                                                       tmp_path: Path, cli: Cli) -> None:
    plan = lambda_plan(tmp_path, lambda_world, version="${NEW_VERSION}")
    lam = client("lambda", lambda_world.endpoint, lambda_world.region)
    lam.update_alias(FunctionName=lambda_world.function, Name="live",
                     RoutingConfig={"AdditionalVersionWeights": {lambda_world.new: 0.5}})
    cli.env.pop("NEW_VERSION", None)
    result = cli.run("rollback", plan)
    assert result.returncode == 0, result.stderr
    assert f"-> version {lambda_world.stable} (AWS: the version the alias points at" \
        in result.stdout
    assert lambda_world.alias_state() == (lambda_world.stable, {})


def test_emergency_rollback_still_checks_the_target_identity(tmp_path: Path,
                                                             cli: Cli) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text('version: 1\nname: x\ntarget:\n  lambda: {function: "${FN}", '
                    'version: "${V}"}\nstrategy: {canary: {weight: 10, bake: 1m}}\n')
    assert "FN" not in os.environ
    result = cli.run("rollback", str(path))
    assert result.returncode == 2
    assert f"{path}:4:22: target.lambda.function: environment variable FN is not set" \
        in result.stderr
    assert "target.lambda.alias: required field is missing" in result.stderr
    assert "environment variable V" not in result.stderr
    assert "Traceback" not in result.stderr
