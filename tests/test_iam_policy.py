"""Every AWS call a rollout makes is covered by the policy `deployer iam-policy` prints:
calls (and their parameters) are recorded with a botocore event hook during real runs
on moto."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from deployer.cli.iam_policy import policy_for
from deployer.core.record import Outcome
from deployer.core.settings import Settings
from deployer.demo.ecs_world import create_ecs_world
from deployer.demo.world import create_lambda_world
from deployer.plan.loader import load_plan
from deployer.runs.rollout import RolloutOptions, rollout
from deployer.store.dynamo_store import DynamoStore
from tests.calendar_moto import CALENDARS, Calendar, patch_calendars
from tests.conftest import queue_lambda_answers

pytestmark = pytest.mark.usefixtures("moto_aws")

PREFIX = {"monitoring": "cloudwatch"}
ACTION_OF_OPERATION = {"lambda:Invoke": "lambda:InvokeFunction"}  # IAM's name differs
NO_PERMISSION_NEEDED = {"sts:GetCallerIdentity"}


@pytest.fixture
def calls() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    recorded: list[tuple[str, dict[str, Any]]] = []
    original = boto3.Session.client

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        prefix = model.service_model.signing_name
        action = f"{PREFIX.get(prefix, prefix)}:{model.name}"
        recorded.append((ACTION_OF_OPERATION.get(action, action), dict(params)))

    def client(self: boto3.Session, *args: Any, **kwargs: Any) -> Any:
        made = original(self, *args, **kwargs)
        made.meta.events.register("before-parameter-build", record)
        return made

    boto3.Session.client = client  # type: ignore[method-assign]
    yield recorded
    boto3.Session.client = original  # type: ignore[method-assign]


def covered(policy: dict[str, Any], action: str, resource_hint: str | None) -> bool:
    for statement in policy["Statement"]:
        if action not in statement["Action"]:
            continue
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        if resource_hint is None or any(r == "*" or fnmatch.fnmatch(resource_hint, r)
                                        or resource_hint in r for r in resources):
            return True
    return False


def hint(action: str, params: dict[str, Any]) -> str | None:
    for key in ("ListenerArn", "RuleArn", "TopicArn"):
        if key in params:
            return str(params[key])
    if action.startswith("lambda:") and "FunctionName" in params:
        return str(params["FunctionName"])
    if action == "ecs:UpdateService":
        return f"service/{params['cluster']}/{params['service']}"
    if action.startswith("dynamodb:"):
        return f"table/{params['TableName']}"
    if action == "ssm:GetCalendarState":
        return f"document/{params['CalendarNames'][0]}"
    if action == "autoscaling:UpdateAutoScalingGroup":
        return f"autoScalingGroupName/{params['AutoScalingGroupName']}"
    if action.startswith("route53:"):
        return f"hostedzone/{params['HostedZoneId']}"
    return None


def assert_covered(policy: dict[str, Any], calls: list[tuple[str, dict[str, Any]]]) -> None:
    missing = sorted({f"{a} ({hint(a, p)})" for a, p in calls
                      if a not in NO_PERMISSION_NEEDED and not covered(policy, a, hint(a, p))})
    assert not missing, f"calls not covered by the policy: {missing}"


def run(text: str, tmp_path: Path, store: str) -> Any:
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    loaded = load_plan(str(path))
    record = rollout(loaded, Settings(store=store, region="us-east-1"),
                     RolloutOptions(time_scale=600))
    return loaded.plan, record


def test_lambda_release_with_hooks_notifications_and_dynamodb(
        calls: list[tuple[str, dict[str, Any]]], tmp_path: Path) -> None:
    world = create_lambda_world(None, alarms=("errors", "latency"))  # type: ignore[arg-type]
    create_lambda_world(None, function="smoke", alarms=())  # type: ignore[arg-type]
    queue_lambda_answers({"hookStatus": "SUCCEEDED"})  # moto runs no code: a canned answer
    topic = boto3.client("sns").create_topic(Name="deploys")["TopicArn"]
    DynamoStore("runs", Settings(region="us-east-1")).initialise()
    patch_calendars()  # moto has no change calendars (tests/calendar_moto.py)
    CALENDARS["prod-freeze"] = Calendar("OPEN")
    calls.clear()
    plan, record = run(f"""\
version: 1
name: checkout
target:
  lambda: {{function: {world.function}, alias: live, publish: true}}
strategy: {{canary: {{weight: 10, bake: 1m}}}}
checks: {{alarms: [errors, latency], poll_every: 10s}}
hooks:
  before_traffic: [{{lambda: smoke}}]
notify: {{sns_topic: {topic}}}
windows: {{change_calendars: [prod-freeze]}}
""", tmp_path, "dynamodb://runs")
    assert record.outcome == Outcome.SUCCEEDED
    assert {"lambda:PublishVersion", "lambda:UpdateAlias", "lambda:InvokeFunction",
            "sns:Publish", "dynamodb:PutItem", "cloudwatch:DescribeAlarms",
            "ssm:GetCalendarState"} <= {a for a, _ in calls}
    assert_covered(policy_for(plan, "dynamodb://runs", "us-east-1"), calls)


def test_ecs_release_with_a_cloned_task_definition(calls: list[tuple[str, dict[str, Any]]],
                                 tmp_path: Path) -> None:
    world = create_ecs_world(None)  # type: ignore[arg-type]
    calls.clear()
    plan, record = run(f"""\
version: 1
name: shop
target:
  ecs:
    cluster: {world.cluster}
    services: {{blue: {world.blue}, green: {world.green}}}
    listener: {world.listener}
    test_listener: {world.test_listener}
    image: {{container: app, uri: "registry/shop:2"}}
strategy: {{linear: {{step: 50, every: 1m}}}}
keep_old_for: 1m
checks: {{alarms: [{world.alarms[0]}]}}
""", tmp_path, f"file://{tmp_path}/store")
    assert record.outcome == Outcome.SUCCEEDED
    assert {"ecs:RegisterTaskDefinition", "ecs:UpdateService",
            "elasticloadbalancing:ModifyListener"} <= {a for a, _ in calls}
    assert_covered(policy_for(plan, None, "us-east-1"), calls)


def test_ecs_release_by_task_sets(calls: list[tuple[str, dict[str, Any]]],
                                  tmp_path: Path) -> None:
    world = create_ecs_world(None, task_sets=True)  # type: ignore[arg-type]
    calls.clear()
    plan, record = run(f"""\
version: 1
name: shop
target:
  ecs:
    cluster: {world.cluster}
    service: {world.service_name}
    target_groups: {{blue: shop-blue, green: shop-green}}
    listener: {world.listener}
    test_listener: {world.test_listener}
    image: {{container: app, uri: "registry/shop:2"}}
strategy: {{linear: {{step: 50, every: 1m}}}}
keep_old_for: 1m
checks: {{alarms: [{world.alarms[0]}]}}
""", tmp_path, f"file://{tmp_path}/store")
    assert record.outcome == Outcome.SUCCEEDED, record.reason
    assert {"ecs:CreateTaskSet", "ecs:UpdateServicePrimaryTaskSet", "ecs:DeleteTaskSet",
            "elasticloadbalancing:DescribeTargetGroups"} <= {a for a, _ in calls}
    assert_covered(policy_for(plan, None, "us-east-1"), calls)


def test_a_release_judged_by_analysis(calls: list[tuple[str, dict[str, Any]]],
                                      tmp_path: Path) -> None:
    world = create_lambda_world(None, alarms=())  # type: ignore[arg-type]
    calls.clear()
    plan, record = run(f"""\
version: 1
name: checkout
target:
  lambda: {{function: {world.function}, alias: live, version: "{world.new}"}}
strategy: {{canary: {{weight: 10, bake: 1m}}}}
checks: {{metrics: {{error_rate: {{max: 5%}}}}, on_inconclusive: promote}}
""", tmp_path, f"file://{tmp_path}/store")
    assert record.outcome == Outcome.SUCCEEDED
    assert "cloudwatch:GetMetricData" in {a for a, _ in calls}
    assert "cloudwatch:DescribeAlarms" not in {a for a, _ in calls}
    assert_covered(policy_for(plan, None, "us-east-1"), calls)


def test_auto_scaling_and_route53_releases(calls: list[tuple[str, dict[str, Any]]],
                                          tmp_path: Path) -> None:
    from deployer.demo.more_worlds import create_asg_world, create_route53_world
    from tests.asg_moto import patch_instance_versions

    patch_instance_versions()  # moto reports the default version (tests/asg_moto.py)
    web = create_asg_world(None)  # type: ignore[arg-type]
    api = create_route53_world(None)  # type: ignore[arg-type]
    calls.clear()
    plan, record = run(f"""\
version: 1
name: edge
targets:
  web:
    asg:
      groups: {{blue: {web.blue}, green: {web.green}}}
      listener: {web.listener}
      test_listener: {web.test_listener}
      launch_template: {{name: {web.template}, version: $Latest}}
  api:
    route53: {{zone: {api.zone}, name: {api.name}, type: A,
               records: {{blue: {api.blue}, green: {api.green}}}}}
strategy: {{canary: {{weight: 10, bake: 1m}}}}
keep_old_for: 1m
checks: {{alarms: [{web.alarms[0]}, {api.alarms[0]}]}}
""", tmp_path, "file://" + str(tmp_path / "store"))
    assert record.outcome == Outcome.SUCCEEDED, record.reason
    assert {"autoscaling:UpdateAutoScalingGroup", "ec2:DescribeLaunchTemplateVersions",
            "route53:ChangeResourceRecordSets", "elasticloadbalancing:ModifyListener"} <= \
        {a for a, _ in calls}
    policy = policy_for(plan, None, "us-east-1")
    assert_covered(policy, calls)
    changes = next(s for s in policy["Statement"] if s["Sid"] == "WeighRecords")
    assert changes["Condition"]["ForAllValues:StringEquals"][
        "route53:ChangeResourceRecordSetsNormalizedRecordNames"] == ["api.example.com"]


def test_a_call_outside_the_policy_is_caught() -> None:
    policy = {"Statement": [{"Action": ["lambda:GetAlias"], "Resource": "arn:x:function:f"}]}
    assert covered(policy, "lambda:GetAlias", "arn:x:function:f")
    assert not covered(policy, "lambda:UpdateAlias", "arn:x:function:f")


def test_targets_in_other_accounts_get_a_role_policy_and_a_trust_policy(
        tmp_path: Path) -> None:
    """SPEC §13: one policy per account — the runner's (assuming each target role) and,
    per role, what deployer does there, each resource in its own region and account."""
    from deployer.cli.iam_policy import role_policies

    path = tmp_path / "regions.yaml"
    path.write_text("""version: 1
name: api
region: us-east-1
targets:
  use1: {lambda: {function: api, alias: live, version: "3"}, alarms: [api-errors]}
  euw1: {lambda: {function: api, alias: live, version: "4"}, region: eu-west-1,
         role_arn: "arn:aws:iam::222233334444:role/deployer-target", external_id: ext-1,
         alarms: [api-errors]}
waves: [[use1], [euw1]]
strategy: {canary: {weight: 10, bake: 5m}}
checks: {alarms: [edge-5xx]}
""")
    plan = load_plan(str(path)).plan
    runner = policy_for(plan, None)
    by_sid = {s["Sid"]: s for s in runner["Statement"]}
    assert by_sid["AssumeTargetRoles"]["Resource"] == \
        "arn:aws:iam::222233334444:role/deployer-target"
    assert by_sid["ShiftAliasWeights"]["Resource"][0] == "arn:aws:lambda:us-east-1:*:function:api"
    assert by_sid["ReadAlarms"]["Resource"] == [
        "arn:aws:cloudwatch:us-east-1:*:alarm:edge-5xx",
        "arn:aws:cloudwatch:us-east-1:*:alarm:api-errors"]
    roles = role_policies(plan, runners=["arn:aws:iam::111122223333:role/ci"])
    (role, documents), = roles.items()
    assert role == "arn:aws:iam::222233334444:role/deployer-target"
    statements = {s["Sid"]: s for s in documents["policy"]["Statement"]}
    assert statements["ShiftAliasWeights"]["Resource"][0] == \
        "arn:aws:lambda:eu-west-1:222233334444:function:api"
    assert statements["ReadAlarms"]["Resource"] == \
        "arn:aws:cloudwatch:eu-west-1:222233334444:alarm:api-errors"
    trust = documents["trust_policy"]["Statement"][0]
    assert trust["Principal"] == {"AWS": "arn:aws:iam::111122223333:role/ci"}
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": "ext-1"}}
