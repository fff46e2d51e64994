"""`deployer iam-policy PLAN`: the least-privilege IAM policy a rollout of this plan needs.

Only the actions the run calls, each scoped to the plan's own resources where AWS
supports resource-level permissions (Describe* calls of ELBv2 and
RegisterTaskDefinition do not). Offline: the account is `*` unless an ARN in the
plan names it; the region is the plan's, else --region, else `*`.
"""

from __future__ import annotations

import copy
from typing import Any

from deployer.plan.model import (
    AlbRoutes,
    AsgTarget,
    EcsTarget,
    LambdaTarget,
    Leg,
    ReleasePlan,
    Route53Target,
    TargetSpec,
)

RUNNER_PLACEHOLDER = "arn:aws:iam::RUNNER_ACCOUNT_ID:root"


def _arn_parts(arn: str) -> tuple[str, str, str]:
    """(partition, region, account) of an ARN."""
    parts = arn.split(":")
    return parts[1], parts[3], parts[4]


class _Scope:
    def __init__(self, plan: ReleasePlan, region: str | None) -> None:
        self.partition, self.region, self.account = "aws", plan.region or region or "*", "*"
        for arn in self._plan_arns(plan):
            self.partition, found_region, found_account = _arn_parts(arn)
            self.region = found_region or self.region
            self.account = found_account or self.account
            break

    @staticmethod
    def _plan_arns(plan: ReleasePlan) -> list[str]:
        arns: list[str] = []
        for leg in plan.legs:
            if leg.spec.role_arn:  # another account: not the runner's scope
                continue
            if leg.spec.lambda_ and leg.spec.lambda_.function.startswith("arn:"):
                arns.append(leg.spec.lambda_.function)
            routes = leg.spec.ecs or leg.spec.asg
            if routes:
                arns.append(routes.route)
        return [a for a in arns if a]

    def at(self, spec: TargetSpec) -> _Scope:
        """The scope of a target in its own region and, through a role, account."""
        scope = copy.copy(self)
        scope.region = spec.region or self.region
        scope.account = spec.account or self.account
        return scope

    def arn(self, service: str, resource: str, region: str | None = None) -> str:
        where = self.region if region is None else region
        return f"arn:{self.partition}:{service}:{where}:{self.account}:{resource}"

    def function(self, name_or_arn: str) -> list[str]:
        base = name_or_arn if name_or_arn.startswith("arn:") else \
            self.arn("lambda", f"function:{name_or_arn}")
        return [base, f"{base}:*"]


def _statement(sid: str, actions: list[str], resources: list[str],
               condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": sorted(actions),
                                 "Resource": resources if len(resources) > 1 else resources[0]}
    if condition:
        statement["Condition"] = condition
    return statement


def _metric_statements(plan: ReleasePlan) -> list[dict[str, Any]]:
    if plan.checks.metrics is None:
        return []
    # GetMetricData has no resource-level permissions: "*" is the only form AWS takes.
    return [_statement("ReadVersionMetrics", ["cloudwatch:GetMetricData"], ["*"])]


def policy_for(plan: ReleasePlan, store_url: str | None = None,
               region: str | None = None) -> dict[str, Any]:
    """The runner's policy: its own account's targets, the plan's alarms, hooks,
    notifications and store, and sts:AssumeRole on each target role (SPEC §13)."""
    scope = _Scope(plan, region)
    legs = [leg for leg in plan.legs if leg.spec.role_arn is None]
    statements = _target_statements(legs, scope)
    alarms = [(name, scope) for name in plan.checks.alarms] + \
        [(name, scope.at(leg.spec)) for leg in legs for name in leg.alarms]
    if alarms:
        statements.append(_statement(
            "ReadAlarms", ["cloudwatch:DescribeAlarms"],
            list(dict.fromkeys(where.arn("cloudwatch", f"alarm:{name}")
                               for name, where in alarms))))
    statements += _metric_statements(plan)
    roles = sorted(plan.roles)
    if roles:
        statements.append(_statement("AssumeTargetRoles", ["sts:AssumeRole"], roles))
    statements += _hooks_and_notify(plan, scope)
    if store_url and store_url.startswith("dynamodb://"):
        table = store_url.removeprefix("dynamodb://").strip("/")
        statements.append(_statement(
            "RunStore", ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem",
                         "dynamodb:Scan"], [scope.arn("dynamodb", f"table/{table}")]))
    return {"Version": "2012-10-17", "Statement": statements}


def _target_statements(legs: list[Leg], scope: _Scope) -> list[dict[str, Any]]:
    """A whole application's targets: the union, each resource scoped to its place."""
    statements: list[dict[str, Any]] = []
    for leg in legs:
        spec, where = leg.spec, scope.at(leg.spec)
        if spec.lambda_ is not None:
            statements += _lambda_statements(spec.lambda_, where)
        elif spec.asg is not None:
            statements += _asg_statements(spec.asg, where)
        elif spec.route53 is not None:
            statements += _route53_statements(spec.route53)
        else:
            assert spec.ecs is not None
            statements += _ecs_statements(spec.ecs, where)
    return _merged(statements)


def role_policies(plan: ReleasePlan, region: str | None = None,
                  runners: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Each target role's policy (what deployer does with it: the targets it reaches,
    their own alarms, their metrics) and its trust policy naming the runner."""
    scope = _Scope(plan, region)
    roles: dict[str, dict[str, Any]] = {}
    for role in plan.roles:
        legs = [leg for leg in plan.legs if leg.spec.role_arn == role]
        statements = _target_statements(legs, scope)
        alarms = [scope.at(leg.spec).arn("cloudwatch", f"alarm:{name}")
                  for leg in legs for name in leg.alarms]
        if alarms:
            statements.append(_statement("ReadAlarms", ["cloudwatch:DescribeAlarms"],
                                         list(dict.fromkeys(alarms))))
        statements += _metric_statements(plan)
        external = {leg.spec.external_id for leg in legs if leg.spec.external_id}
        principals = runners or [RUNNER_PLACEHOLDER]
        trust: dict[str, Any] = {"Effect": "Allow", "Principal": {
            "AWS": principals if len(principals) > 1 else principals[0]},
            "Action": "sts:AssumeRole"}
        if external:
            trust["Condition"] = {"StringEquals": {"sts:ExternalId": sorted(external)[0]}}
        roles[role] = {"policy": {"Version": "2012-10-17", "Statement": statements},
                       "trust_policy": {"Version": "2012-10-17", "Statement": [trust]}}
    return roles


def _hooks_and_notify(plan: ReleasePlan, scope: _Scope) -> list[dict[str, Any]]:
    """Invoking the plan's lambda hooks, publishing to its topic, and reading its
    change calendars (SPEC §14), all in the plan's place."""
    statements = []
    hooks = [h.lambda_ for h in (*plan.hooks.before_traffic, *plan.hooks.after_traffic)
             if h.lambda_]
    if hooks:
        statements.append(_statement("InvokeHooks", ["lambda:InvokeFunction"],
                                     [arn for hook in hooks for arn in scope.function(hook)]))
    if plan.notify.sns_topic:
        statements.append(_statement("Notify", ["sns:Publish"], [plan.notify.sns_topic]))
    calendars = plan.windows.change_calendars if plan.windows else []
    if calendars:
        statements.append(_statement("ReadChangeCalendars", ["ssm:GetCalendarState"], [
            name if name.startswith("arn:") else scope.arn("ssm", f"document/{name}")
            for name in calendars]))
    return statements


def _merged(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Statements of several targets with the same Sid and actions as one, resources
    unioned (a condition, when there is one, is the same for every target)."""
    merged: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}
    for statement in statements:
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        # Only the same actions merge: a target that publishes versions does not give
        # PublishVersion to its neighbours.
        key = (statement["Sid"], tuple(statement["Action"]))
        found = merged.get(key)
        if found is None:
            same_sid = sum(1 for sid, _ in merged if sid == statement["Sid"])
            sid = statement["Sid"] + (str(same_sid + 1) if same_sid else "")
            merged[key] = {**statement, "Sid": sid, "Resource": list(resources)}
            continue
        found["Resource"] += [r for r in resources if r not in found["Resource"]]
    for statement in merged.values():
        if len(statement["Resource"]) == 1:
            statement["Resource"] = statement["Resource"][0]
    return list(merged.values())


def _lambda_statements(spec: LambdaTarget, scope: _Scope) -> list[dict[str, Any]]:
    function = scope.function(spec.function)
    actions = ["lambda:GetAlias", "lambda:UpdateAlias", "lambda:GetFunction",
               "lambda:GetFunctionConfiguration"]
    if spec.publish or spec.code:
        actions.append("lambda:PublishVersion")
    if spec.code:
        actions.append("lambda:UpdateFunctionCode")
    if spec.provisioned_concurrency != "none":
        actions += ["lambda:GetProvisionedConcurrencyConfig",
                    "lambda:PutProvisionedConcurrencyConfig",
                    "lambda:DeleteProvisionedConcurrencyConfig"]
    statements = [_statement("ShiftAliasWeights", actions, function)]
    if spec.code and spec.code.s3_bucket:
        key = f"{spec.code.s3_bucket}/{spec.code.s3_key}"
        statements.append(_statement(
            "ReadCode", ["s3:GetObject", "s3:GetObjectVersion"],
            [f"arn:{scope.partition}:s3:::{key}"]))
    return statements


def _ecs_statements(spec: EcsTarget, scope: _Scope) -> list[dict[str, Any]]:
    cluster = spec.cluster.rsplit("/", 1)[-1]
    if spec.services is not None:
        services = [scope.arn("ecs", f"service/{cluster}/{name}")
                    for name in (spec.services.blue, spec.services.green)]
        deploy = _statement("ReadAndDeployServices",
                            ["ecs:DescribeServices", "ecs:UpdateService"], services)
    else:  # one EXTERNAL service: task sets (SPEC §9)
        deploy = _statement(
            "ReadAndDeployTaskSets",
            ["ecs:DescribeServices", "ecs:DescribeTaskSets", "ecs:CreateTaskSet",
             "ecs:DeleteTaskSet", "ecs:UpdateServicePrimaryTaskSet"],
            [scope.arn("ecs", f"service/{cluster}/{spec.service}"),
             scope.arn("ecs", f"task-set/{cluster}/{spec.service}/*")])
    statements = [
        deploy,
        _statement("TaskDefinitions", ["ecs:DescribeTaskDefinition",
                                       "ecs:RegisterTaskDefinition", "ecs:TagResource"], ["*"]),
        *_routes_statements(spec),
    ]
    if spec.image is not None:
        statements.append(_statement(
            "PassTaskRoles", ["iam:PassRole"], ["*"],
            {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}))
    return statements


# What reading an ALB route takes; a runner also reads the groups and their health.
ROUTE_READS = ("elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeRules")
GROUP_READS = ("elasticloadbalancing:DescribeTargetGroups",
               "elasticloadbalancing:DescribeTargetHealth")


def _routes_statements(spec: AlbRoutes, reads: tuple[str, ...] = ROUTE_READS + GROUP_READS
                       ) -> list[dict[str, Any]]:
    """Reading and shifting an ALB listener's or rule's weights (ECS, Auto Scaling):
    the production route, and the test route a rollback puts back on stable."""
    statements = [_statement("ReadLoadBalancing", list(reads), ["*"])]
    listeners = [arn for arn in (spec.listener, spec.test_listener) if arn]
    if listeners:
        statements.append(_statement("ShiftListenerWeights",
                                     ["elasticloadbalancing:ModifyListener"], listeners))
    rules = [arn for arn in (spec.rule, spec.test_rule) if arn]
    if rules:
        statements.append(_statement("ShiftRuleWeights", ["elasticloadbalancing:ModifyRule"],
                                     rules))
    return statements


def _group_arns(spec: AsgTarget, scope: _Scope) -> list[str]:
    return [scope.arn("autoscaling", f"autoScalingGroup:*:autoScalingGroupName/{name}")
            for name in (spec.groups.blue, spec.groups.green)]


def _asg_statements(spec: AsgTarget, scope: _Scope) -> list[dict[str, Any]]:
    """Auto Scaling blue/green (SPEC §15). Describe* calls of Auto Scaling and EC2 take
    no resource; updating a group to a launch template version needs the rights to
    launch from it (ec2:RunInstances, ec2:CreateTags, iam:PassRole for its profile)."""
    return [
        _statement("ScaleGroups", ["autoscaling:UpdateAutoScalingGroup"],
                   _group_arns(spec, scope)),
        _statement("ReadGroups", ["autoscaling:DescribeAutoScalingGroups",
                                  "ec2:DescribeLaunchTemplateVersions"], ["*"]),
        _statement("LaunchFromTemplate", ["ec2:CreateTags", "ec2:RunInstances"], ["*"]),
        _statement("PassInstanceProfile", ["iam:PassRole"], ["*"],
                   {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}),
        *_routes_statements(spec),
    ]


def _route53_statements(spec: Route53Target) -> list[dict[str, Any]]:
    """Route 53 weighted records (SPEC §15): a hosted zone's ARN names no region or
    account; changes are limited to the record name."""
    zone = f"arn:aws:route53:::hostedzone/{spec.zone.rsplit('/', 1)[-1]}"
    return [
        _statement("ReadRecords", ["route53:ListResourceRecordSets"], [zone]),
        _statement("WeighRecords", ["route53:ChangeResourceRecordSets"], [zone], {
            "ForAllValues:StringEquals": {
                "route53:ChangeResourceRecordSetsNormalizedRecordNames":
                    [spec.name.rstrip(".").lower()],
                "route53:ChangeResourceRecordSetsRecordTypes": [spec.type],
                "route53:ChangeResourceRecordSetsActions": ["UPSERT"]}}),
    ]


# ---------------------------------------------------------------- Step Functions (SPEC §11)

def machine_role_policy(plan: ReleasePlan, table: str, region: str | None = None
                        ) -> dict[str, Any]:
    """What the state machine's role needs: only the calls its definition makes."""
    scope = _Scope(plan, region)
    statements: list[dict[str, Any]] = []
    for leg in plan.legs:
        if leg.spec.role_arn:  # another account: the machine calls it as that role
            continue
        if leg.spec.lambda_ is not None:
            statements.append(_statement("ShiftAliasWeights",
                                         ["lambda:GetAlias", "lambda:UpdateAlias"],
                                         scope.function(leg.spec.lambda_.function)))
            if leg.spec.lambda_.provisioned_concurrency != "none":
                statements.append(_statement(
                    "ReleaseProvisionedConcurrency",
                    ["lambda:DeleteProvisionedConcurrencyConfig"],
                    scope.function(leg.spec.lambda_.function)))
            continue
        routes = leg.spec.ecs or leg.spec.asg
        assert routes is not None  # route53 is refused on this engine
        statements += _routes_statements(routes, ROUTE_READS)
        if leg.spec.asg is not None:  # discard the new group, retire the old one
            statements.append(_statement("ScaleGroups", ["autoscaling:UpdateAutoScalingGroup"],
                                         _group_arns(leg.spec.asg, scope.at(leg.spec))))
            continue
        ecs = leg.spec.ecs
        assert ecs is not None
        cluster = ecs.cluster.rsplit("/", 1)[-1]
        if ecs.services is not None:
            statements.append(_statement("ScaleServices", ["ecs:UpdateService"], [
                scope.arn("ecs", f"service/{cluster}/{name}")
                for name in (ecs.services.blue, ecs.services.green)]))
        else:
            statements.append(_statement(
                "SwapTaskSets", ["ecs:DeleteTaskSet", "ecs:UpdateServicePrimaryTaskSet"],
                [scope.arn("ecs", f"service/{cluster}/{ecs.service}"),
                 scope.arn("ecs", f"task-set/{cluster}/{ecs.service}/*")]))
    statements = _merged(statements)
    own = plan.alarms_read_as(None)
    if own:  # a plan that watches nothing makes no DescribeAlarms call
        statements.append(_statement(
            "ReadAlarms", ["cloudwatch:DescribeAlarms"],
            [scope.arn("cloudwatch", f"alarm:{name}") for name in own]))
    roles = sorted(plan.roles)
    if roles:  # a Task's Credentials: the execution role assumes the target's role
        statements.append(_statement("AssumeTargetRoles", ["sts:AssumeRole"], roles))
    statements += _metric_statements(plan)
    statements += _hooks_and_notify(plan, scope)
    statements.append(_statement("RunRecord", ["dynamodb:GetItem", "dynamodb:UpdateItem"],
                                 [scope.arn("dynamodb", f"table/{table}")]))
    return {"Version": "2012-10-17", "Statement": statements}


def caller_policy(plan: ReleasePlan, table: str, region: str | None = None) -> dict[str, Any]:
    """What `rollout --engine stepfunctions` (and approve/abort) need: the local run's
    preflight and preparation, the run store, and the state machine itself."""
    scope = _Scope(plan, region)
    local = policy_for(plan, f"dynamodb://{table}", region)
    machine = scope.arn("states", f"stateMachine:deployer-{plan.name}")
    executions = scope.arn("states", f"execution:deployer-{plan.name}:*")
    local["Statement"] += [
        _statement("StateMachine", ["states:CreateStateMachine", "states:DescribeStateMachine",
                                    "states:UpdateStateMachine", "states:StartExecution"],
                   [machine]),
        _statement("Executions", ["states:DescribeExecution"], [executions]),
        # Task tokens carry no ARN: SendTask* takes no resource-level permission.
        _statement("AnswerApprovals", ["states:SendTaskFailure", "states:SendTaskSuccess"],
                   ["*"]),
        _statement("PassMachineRole", ["iam:PassRole"], ["*"],
                   {"StringEquals": {"iam:PassedToService": "states.amazonaws.com"}}),
    ]
    return local
