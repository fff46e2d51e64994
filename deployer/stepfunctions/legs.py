"""The per-target program of the state machine: write a route (or only read it) and read
it back, for a Lambda alias or an ALB listener/rule; after a rollback, discard the new
ECS tasks or Auto Scaling instances; after success, retire the old ones.

It runs inside a Map over the wave's targets, so one definition serves one target or
a hundred. Each item is a target as `rollout` resolved it (see `inputs.py`):
`{"name", "kind": lambda|listener|rule, "routes": [route 0 = all on stable, 1.., ],
"arn"|"function"+"alias", "cluster", "layout", ...}`.
"""

from __future__ import annotations

from typing import Any

from deployer.stepfunctions.asl import DRIFT, State, sdk_task

LEG_DONE = "LegDone"
FORWARD_GROUPS = "$.{read}[*].ForwardConfig.TargetGroups"


def prefixed(program: dict[str, Any], prefix: str) -> dict[str, Any]:
    """`program` with every state name prefixed: ASL wants each name unique in the
    whole state machine, and the same program runs in several Maps."""
    def name(old: str) -> str:
        return f"{prefix}{old}"

    states: dict[str, State] = {}
    for old, original in program["States"].items():
        state = dict(original)
        for key in ("Next", "Default"):
            if key in state:
                state[key] = name(state[key])
        if "Choices" in state:
            state["Choices"] = [{**c, "Next": name(c["Next"])} for c in state["Choices"]]
        if "Catch" in state:
            state["Catch"] = [{**c, "Next": name(c["Next"])} for c in state["Catch"]]
        states[name(old)] = state
    return {"StartAt": name(program["StartAt"]), "States": states}


def with_roles(program: dict[str, Any]) -> dict[str, Any]:
    """`program` twice: as it is, and with every Task made with the leg's role
    (`Credentials`: another account, SPEC §13); a Choice picks by `$.leg.role`."""
    assumed = prefixed(program, "As")
    for state in assumed["States"].values():
        if state["Type"] == "Task":
            state["Credentials"] = {"RoleArn.$": "$.leg.role"}
    return {"StartAt": "Whose", "States": {
        "Whose": {"Type": "Choice", "Choices": [
            {"Variable": "$.leg.role", "IsPresent": True, "Next": assumed["StartAt"]}],
            "Default": program["StartAt"]},
        **program["States"], **assumed["States"]}}


def leg_kinds(legs: list[Any]) -> set[str]:
    """What the plan's targets are: lambda, listener or rule; services or task_sets."""
    kinds: set[str] = set()
    for leg in legs:
        if leg.spec.lambda_ is not None:
            kinds.add("lambda")
            if leg.spec.lambda_.provisioned_concurrency != "none":
                kinds.add("pc")
            continue
        routes = leg.spec.ecs or leg.spec.asg
        if routes is None:
            continue  # route53: refused on this engine (validate.py)
        kinds.add("rule" if routes.rule else "listener")
        if leg.spec.asg is not None:
            kinds.add("asg")
        else:
            kinds.add("services" if leg.spec.ecs.services is not None else "task_sets")
        if routes.test_listener or routes.test_rule:
            kinds.add("test_listener" if routes.test_listener else "test_rule")
    return kinds


def only(program: dict[str, Any], kinds: set[str]) -> dict[str, Any]:
    """`program` without the Choice rules for kinds of target the plan does not have
    (their states are then unreachable, and pruned): the role needs no permission for
    calls the machine can never make."""
    states: dict[str, State] = {}
    for name, state in program["States"].items():
        if state["Type"] != "Choice":
            states[name] = state
            continue
        rules = [c for c in state["Choices"] if _rule_kinds(c) <= kinds]
        # A Choice needs at least one rule: with none left it is a plain step on.
        states[name] = {**state, "Choices": rules} if rules else \
            {"Type": "Pass", "Next": state["Default"]}
    return {**program, "States": states}


def _rule_kinds(rule: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for test in rule.get("And", [rule]):
        if test.get("Variable") in ("$.leg.kind", "$.leg.layout", "$.leg.testkind",
                                    "$.leg.pc"):
            found.add(test["StringEquals"])
    return found


def leg_program() -> dict[str, Any]:
    """The Map iterator: `$.leg`, `$.route` (index into leg.routes), `$.mode`
    (write | check | undo)."""
    states: dict[str, State] = {
        "Route": {"Type": "Pass",
                  "Parameters": {"r.$": "States.ArrayGetItem($.leg.routes, $.route)"},
                  "ResultPath": "$.want", "Next": "Kind"},
        "Kind": {"Type": "Choice", "Choices": [
            _both("lambda", "check", "LambdaRead"), _kind("lambda", "LambdaWrite"),
            _both("listener", "check", "ListenerRead"), _kind("listener", "ListenerWrite"),
            _both("rule", "check", "RuleRead"), _kind("rule", "RuleWrite"),
        ], "Default": "UnknownKind"},
        "UnknownKind": {"Type": "Fail", "Error": "deployer.UnknownTarget",
                        "CausePath": "States.Format('unknown target kind {}', $.leg.kind)"},
        **_lambda_states(), **_elb_states(),
        "Verified": {"Type": "Choice", "Choices": [
            # Undo: test traffic back on the stable colour first (prepare pointed it at
            # the new one for the before_traffic hooks), then the new colour goes.
            {"And": [{"Variable": "$.mode", "StringEquals": "undo"},
                     {"Variable": "$.leg.testkind", "StringEquals": "test_listener"}],
             "Next": "TestListenerWrite"},
            {"And": [{"Variable": "$.mode", "StringEquals": "undo"},
                     {"Variable": "$.leg.testkind", "StringEquals": "test_rule"}],
             "Next": "TestRuleWrite"},
            {"Variable": "$.mode", "StringEquals": "undo", "Next": "Discard"},
        ], "Default": LEG_DONE},
        **_test_route_states(),
        "Discard": {"Type": "Choice", "Choices": [
            {"Variable": "$.leg.layout", "StringEquals": "services", "Next": "DiscardService"},
            {"Variable": "$.leg.layout", "StringEquals": "task_sets",
             "Next": "DiscardTaskSet"},
            {"Variable": "$.leg.layout", "StringEquals": "asg", "Next": "DiscardGroup"},
            {"Variable": "$.leg.pc", "StringEquals": "pc", "Next": "DiscardConcurrency"},
        ], "Default": LEG_DONE},
        "DiscardGroup": _scale_to_zero("$.leg.new_group"),
        # The provisioned concurrency rollout gave the new version: no longer paid for.
        "DiscardConcurrency": _drop_concurrency("$.leg.new_version"),
        "DiscardService": sdk_task("ecs", "updateService", {
            "Cluster.$": "$.leg.cluster", "Service.$": "$.leg.new_service", "DesiredCount": 0,
        }, next_state=LEG_DONE, on_error=None),
        "DiscardTaskSet": sdk_task("ecs", "deleteTaskSet", {
            "Cluster.$": "$.leg.cluster", "Service.$": "$.leg.service",
            "TaskSet.$": "$.leg.new_task_set", "Force": True,
        }, next_state=LEG_DONE, on_error=None),
        "Mismatch": {"Type": "Fail", "Error": DRIFT, "CausePath": (
            "States.Format('{}: read back {}, expected {} (someone else changed it; "
            "deployer leaves it alone)', $.leg.name, $.check.got, $.check.want)")},
        LEG_DONE: {"Type": "Succeed"},
    }
    return {"StartAt": "Route", "States": states}


def retire_program() -> dict[str, Any]:
    """After success: the old ECS tasks go (Lambda keeps its versions)."""
    states: dict[str, State] = {
        "Layout": {"Type": "Choice", "Choices": [
            {"Variable": "$.leg.layout", "StringEquals": "services", "Next": "RetireService"},
            {"Variable": "$.leg.layout", "StringEquals": "task_sets", "Next": "MakePrimary"},
            {"Variable": "$.leg.layout", "StringEquals": "asg", "Next": "RetireGroup"},
            {"Variable": "$.leg.pc", "StringEquals": "pc", "Next": "RetireConcurrency"},
        ], "Default": LEG_DONE},
        "RetireGroup": _scale_to_zero("$.leg.stable_group"),
        # The old version's own provisioned concurrency would otherwise be paid twice.
        "RetireConcurrency": _drop_concurrency("$.leg.stable_version"),
        "RetireService": sdk_task("ecs", "updateService", {
            "Cluster.$": "$.leg.cluster", "Service.$": "$.leg.stable_service",
            "DesiredCount": 0,
        }, next_state=LEG_DONE, on_error=None),
        "MakePrimary": sdk_task("ecs", "updateServicePrimaryTaskSet", {
            "Cluster.$": "$.leg.cluster", "Service.$": "$.leg.service",
            "PrimaryTaskSet.$": "$.leg.new_task_set",
        }, next_state="RetireTaskSet", on_error=None),
        "RetireTaskSet": sdk_task("ecs", "deleteTaskSet", {
            "Cluster.$": "$.leg.cluster", "Service.$": "$.leg.service",
            "TaskSet.$": "$.leg.stable_task_set", "Force": True,
        }, next_state=LEG_DONE, on_error=None),
        LEG_DONE: {"Type": "Succeed"},
    }
    return {"StartAt": "Layout", "States": states}


def _scale_to_zero(group_path: str) -> State:
    """An Auto Scaling group to no instances (the new one after a rollback, the old one
    after success)."""
    return sdk_task("autoscaling", "updateAutoScalingGroup", {
        "AutoScalingGroupName.$": group_path, "MinSize": 0, "DesiredCapacity": 0,
    }, next_state=LEG_DONE, on_error=None)


def _kind(kind: str, next_state: str) -> dict[str, Any]:
    return {"Variable": "$.leg.kind", "StringEquals": kind, "Next": next_state}


def _both(kind: str, mode: str, next_state: str) -> dict[str, Any]:
    return {"And": [{"Variable": "$.leg.kind", "StringEquals": kind},
                    {"Variable": "$.mode", "StringEquals": mode}], "Next": next_state}


def _verify(rules: list[dict[str, Any]]) -> State:
    return {"Type": "Choice", "Choices": [{"And": rules, "Next": "Verified"}],
            "Default": "Mismatch"}


def _lambda_states() -> dict[str, State]:
    # A route is {"primary": version, "weights": {new: fraction}}; read back, the alias
    # must name the same primary version and exactly the same weights.
    def compare(weights: str) -> State:
        return {"Type": "Pass", "Parameters": {
            "version.$": "$.read.alias.FunctionVersion",
            "weights.$": f"States.JsonToString({weights})",
            "wantVersion.$": "$.want.r.primary",
            "wantWeights.$": "States.JsonToString($.want.r.weights)",
        }, "ResultPath": "$.check", "Next": "LambdaSay"}

    return {
        "LambdaWrite": sdk_task("lambda", "updateAlias", {
            "FunctionName.$": "$.leg.function", "Name.$": "$.leg.alias",
            "FunctionVersion.$": "$.want.r.primary",
            "RoutingConfig": {"AdditionalVersionWeights.$": "$.want.r.weights"},
        }, next_state="LambdaRead", on_error=None),
        "LambdaRead": sdk_task("lambda", "getAlias", {
            "FunctionName.$": "$.leg.function", "Name.$": "$.leg.alias",
        }, next_state="LambdaRouted", on_error=None, result_path="$.read",
            result_selector={"alias.$": "$"}),
        "LambdaRouted": {"Type": "Choice", "Choices": [
            {"Variable": "$.read.alias.RoutingConfig.AdditionalVersionWeights",
             "IsPresent": True, "Next": "LambdaWeights"},
        ], "Default": "LambdaNoWeights"},
        "LambdaWeights": compare("$.read.alias.RoutingConfig.AdditionalVersionWeights"),
        "LambdaNoWeights": compare("$.none"),
        "LambdaSay": {"Type": "Pass", "Parameters": {
            "version.$": "$.check.version", "weights.$": "$.check.weights",
            "wantVersion.$": "$.check.wantVersion", "wantWeights.$": "$.check.wantWeights",
            "got.$": "States.Format('version {} + {}', $.check.version, $.check.weights)",
            "want.$": ("States.Format('version {} + {}', $.check.wantVersion, "
                       "$.check.wantWeights)"),
        }, "ResultPath": "$.check", "Next": "LambdaVerify"},
        "LambdaVerify": _verify([
            {"Variable": "$.check.version", "StringEqualsPath": "$.check.wantVersion"},
            {"Variable": "$.check.weights", "StringEqualsPath": "$.check.wantWeights"},
        ]),
    }


def _elb_states() -> dict[str, State]:
    # A route is {"actions": the full action list to write, "groups": the forward
    # action's target groups as AWS returns them}. The read takes every action's groups
    # (an indefinite path: a list, never a missing path), so an action list someone
    # else changed reads back different instead of failing the execution.
    return {
        **_elb_write_read("", "$.leg.arn", "$.want.r.actions", "ElbWeights"),
        "ElbWeights": {"Type": "Pass", "Parameters": {
            "got.$": "States.JsonToString($.read.groups)",
            "want.$": "States.JsonToString(States.Array($.want.r.groups))"},
            "ResultPath": "$.check", "Next": "ElbVerify"},
        "ElbVerify": _verify([
            {"Variable": "$.check.got", "StringEqualsPath": "$.check.want"}]),
    }


def _test_route_states() -> dict[str, State]:
    """A target's test listener or rule back to its stable-side actions (`leg.test`:
    {"arn", "restore": {"actions", "groups"}}), read back like a production route."""
    return {
        **_elb_write_read("Test", "$.leg.test.arn", "$.leg.test.restore.actions",
                          "TestWeights"),
        "TestWeights": {"Type": "Pass", "Parameters": {
            "got.$": "States.JsonToString($.read.groups)",
            "want.$": "States.JsonToString(States.Array($.leg.test.restore.groups))"},
            "ResultPath": "$.check", "Next": "TestVerify"},
        "TestVerify": {"Type": "Choice", "Choices": [
            {"Variable": "$.check.got", "StringEqualsPath": "$.check.want",
             "Next": "Discard"}], "Default": "Mismatch"},
    }


def _drop_concurrency(version: str) -> State:
    """DeleteProvisionedConcurrencyConfig on one version; best effort, as the local
    engine's (a version without any, or a failed delete, never fails the run)."""
    state = sdk_task("lambda", "deleteProvisionedConcurrencyConfig", {
        "FunctionName.$": "$.leg.function", "Qualifier.$": version,
    }, next_state=LEG_DONE, on_error=LEG_DONE)
    state["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": LEG_DONE}]
    return state


def _elb_write_read(prefix: str, arn: str, actions: str, then: str) -> dict[str, State]:
    """Write a listener's (or rule's) actions and read its forward groups back into
    `$.read.groups`, then go to `then`: `{prefix}ListenerWrite` / `{prefix}RuleWrite`."""
    return {
        f"{prefix}ListenerWrite": sdk_task("elasticloadbalancingv2", "modifyListener", {
            "ListenerArn.$": arn, "DefaultActions.$": actions,
        }, next_state=f"{prefix}ListenerRead", on_error=None),
        f"{prefix}ListenerRead": sdk_task("elasticloadbalancingv2", "describeListeners", {
            "ListenerArns.$": f"States.Array({arn})",
        }, next_state=then, on_error=None, result_path="$.read", result_selector={
            "groups.$": FORWARD_GROUPS.format(read="Listeners[0].DefaultActions")}),
        f"{prefix}RuleWrite": sdk_task("elasticloadbalancingv2", "modifyRule", {
            "RuleArn.$": arn, "Actions.$": actions,
        }, next_state=f"{prefix}RuleRead", on_error=None),
        f"{prefix}RuleRead": sdk_task("elasticloadbalancingv2", "describeRules", {
            "RuleArns.$": f"States.Array({arn})",
        }, next_state=then, on_error=None, result_path="$.read",
            result_selector={"groups.$": FORWARD_GROUPS.format(read="Rules[0].Actions")}),
    }

