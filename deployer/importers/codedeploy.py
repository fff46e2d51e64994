"""`deployer import codedeploy --appspec FILE --deployment-group FILE` (SPEC §10): an ECS
appspec plus `aws deploy get-deployment-group` output -> a one-service plan (SPEC §9)."""

from __future__ import annotations

from typing import Any

from deployer.importers.draft import Draft
from deployer.importers.lambda_release import checks_of
from deployer.importers.resolve import literal
from deployer.importers.shapes import as_dict, as_list, is_scalar
from deployer.importers.template import ImportProblem, line_of, read_document
from strategies.presets import PRESETS, canonical_preset_name

BEFORE = ("BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic")
AFTER = ("AfterAllowTraffic",)


def import_codedeploy(appspec_path: str, group_path: str) -> Draft:
    appspec = read_document(appspec_path, "an appspec")
    document = read_document(group_path, "a deployment group (aws deploy "
                                         "get-deployment-group --output json)")
    group = document.get("deploymentGroupInfo", document) if isinstance(document, dict) \
        else None
    if not isinstance(group, dict) or not is_scalar(group.get("deploymentGroupName")):
        raise ImportProblem(f"{group_path}: not a deployment group (no deploymentGroupName)")
    service = _ecs_service(appspec, appspec_path)
    name = _name(str(group["deploymentGroupName"]))
    draft = Draft(name, appspec_path, {"version": 1, "name": name})
    services = [s for s in as_list(group.get("ecsServices")) if isinstance(s, dict)
                and is_scalar(s.get("clusterName")) and is_scalar(s.get("serviceName"))]
    if not services:
        raise ImportProblem(f"{group_path}: not an ECS deployment group (no ecsServices with "
                            "a clusterName and a serviceName)")
    pairs = as_list(as_dict(group.get("loadBalancerInfo")).get("targetGroupPairInfoList"))
    pair = as_dict(pairs[0]) if pairs else {}
    groups = [g.get("name") for g in as_list(pair.get("targetGroups"))
              if isinstance(g, dict) and is_scalar(g.get("name"))]
    production = _listeners(pair, "prodTrafficRoute")
    test = _listeners(pair, "testTrafficRoute")
    if len(groups) != 2 or not production:
        raise ImportProblem(f"{group_path}: the deployment group has no target group pair "
                            "with a production listener")
    properties = as_dict(service.get("Properties"))
    definition = properties.get("TaskDefinition")
    definition = str(definition) if is_scalar(definition) else "<TASK_DEFINITION>"
    ecs: dict[str, Any] = {
        "cluster": literal(str(services[0]["clusterName"])),
        "service": literal(str(services[0]["serviceName"])),
        "target_groups": {"blue": literal(str(groups[0])), "green": literal(str(groups[1]))},
        "listener": literal(production[0])}
    if test:
        ecs["test_listener"] = literal(test[0])
    ecs["task_definition"] = ("${TASK_DEFINITION}" if definition.startswith("<")
                              else literal(definition))
    draft.plan["target"] = {"ecs": ecs}
    draft.note("target.ecs.target_groups", "the deployment group's target group pair")
    draft.note("target.ecs.task_definition", "appspec TaskDefinition: set TASK_DEFINITION "
                                             "to the revision to release")
    config = group.get("deploymentConfigName")
    draft.plan["strategy"] = _strategy(draft, str(config) if is_scalar(config) else "",
                                       group_path)
    draft.plan.update(_keep_old(group))
    draft.plan["checks"] = _alarms(draft, group, group_path)
    hooks = _hooks(draft, appspec)
    if hooks:
        draft.plan["hooks"] = hooks
    draft.warn("target.ecs.service", 1, "a CODE_DEPLOY service cannot be driven by deployer: "
               "move it to one EXTERNAL service (docs/ecs.md, 'From a CodeDeploy-controlled "
               "service')", group_path)
    return draft


def _listeners(pair: dict[str, Any], route: str) -> list[str]:
    return [str(arn) for arn in as_list(as_dict(pair.get(route)).get("listenerArns"))
            if is_scalar(arn)]


def _ecs_service(appspec: Any, path: str) -> dict[str, Any]:
    resources = appspec.get("Resources") if isinstance(appspec, dict) else None
    for resource in as_list(resources):
        for value in as_dict(resource).values():
            if isinstance(value, dict) and value.get("Type") == "AWS::ECS::Service":
                return value
    raise ImportProblem(f"{path}: not an ECS appspec (no AWS::ECS::Service resource)")


def _strategy(draft: Draft, config: str, source: str) -> dict[str, Any]:
    bare = config.removeprefix("CodeDeployDefault.")
    if config and bare in PRESETS:
        draft.note("strategy.preset", f"deploymentConfigName {config}")
        return {"preset": canonical_preset_name(bare, "ecs")}
    draft.warn("strategy", 1, f"deployment config {config or '(none)'} is custom: write its "
               "steps (a canary of 10% for 5 minutes stands in)", source)
    return {"canary": {"weight": 10, "bake": "5m"}}


def _keep_old(group: dict[str, Any]) -> dict[str, Any]:
    blue_green = as_dict(group.get("blueGreenDeploymentConfiguration"))
    terminate = as_dict(blue_green.get("terminateBlueInstancesOnDeploymentSuccess"))
    minutes = terminate.get("terminationWaitTimeInMinutes")
    if isinstance(minutes, int) and not isinstance(minutes, bool) and 0 < minutes <= 2880:
        return {"keep_old_for": f"{minutes}m"}
    return {}


def _alarms(draft: Draft, group: dict[str, Any], source: str) -> dict[str, Any]:
    config = as_dict(group.get("alarmConfiguration"))
    names = [literal(str(a["name"])) for a in as_list(config.get("alarms"))
             if isinstance(a, dict) and is_scalar(a.get("name")) and str(a["name"])]
    if config.get("ignorePollAlarmFailure") is True:
        draft.warn("checks", 1, "ignorePollAlarmFailure: deployer never ignores an alarm it "
                   "cannot read (it rolls back)", source)
    if names and config.get("enabled") is False:
        draft.warn("checks.alarms", 1, "alarmConfiguration enabled: false in CodeDeploy; "
                   "the plan watches these alarms", source)
    if names:
        draft.note("checks.alarms", "the deployment group's alarmConfiguration")
    return checks_of(draft, names, "the deployment group")


def _hooks(draft: Draft, appspec: dict[str, Any]) -> dict[str, Any]:
    hooks: dict[str, list[dict[str, str]]] = {}
    for entry in as_list(appspec.get("Hooks")):
        for event, function in as_dict(entry).items():
            stage = "before_traffic" if event in BEFORE else \
                "after_traffic" if event in AFTER else None
            if stage is None or not is_scalar(function) or not str(function):
                draft.warn("hooks", line_of(entry), f"hook {event} has no equivalent"
                           if stage is None else f"hook {event} names no function")
                continue
            hooks.setdefault(stage, []).append({"lambda": literal(str(function))})
            draft.warn(f"hooks.{stage}", line_of(entry),
                       f"{event} hook {function} must return {{\"hookStatus\": ...}} instead "
                       "of calling PutLifecycleEventHookExecutionStatus")
    return hooks


def _name(text: str) -> str:
    import re

    return (re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-") or "imported")[:64].strip("-") \
        or "imported"
