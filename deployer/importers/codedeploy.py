"""`deployer import codedeploy --appspec FILE --deployment-group FILE` (SPEC §10): an ECS
appspec plus `aws deploy get-deployment-group` output -> a one-service plan (SPEC §9)."""

from __future__ import annotations

from typing import Any

from deployer.importers.draft import Draft
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
    if not isinstance(group, dict) or "deploymentGroupName" not in group:
        raise ImportProblem(f"{group_path}: not a deployment group (no deploymentGroupName)")
    service = _ecs_service(appspec, appspec_path)
    name = _name(str(group["deploymentGroupName"]))
    draft = Draft(name, appspec_path, {"version": 1, "name": name})
    services = group.get("ecsServices") or []
    if not services:
        raise ImportProblem(f"{group_path}: not an ECS deployment group (no ecsServices)")
    pair = ((group.get("loadBalancerInfo") or {}).get("targetGroupPairInfoList") or [{}])[0]
    groups = [g.get("name") for g in pair.get("targetGroups") or []]
    production = (pair.get("prodTrafficRoute") or {}).get("listenerArns") or []
    test = (pair.get("testTrafficRoute") or {}).get("listenerArns") or []
    if len(groups) != 2 or not production:
        raise ImportProblem(f"{group_path}: the deployment group has no target group pair "
                            "with a production listener")
    properties = service.get("Properties") or {}
    definition = str(properties.get("TaskDefinition") or "<TASK_DEFINITION>")
    ecs: dict[str, Any] = {
        "cluster": services[0].get("clusterName"), "service": services[0].get("serviceName"),
        "target_groups": {"blue": groups[0], "green": groups[1]},
        "listener": production[0]}
    if test:
        ecs["test_listener"] = test[0]
    ecs["task_definition"] = ("${TASK_DEFINITION}" if definition.startswith("<")
                              else definition)
    draft.plan["target"] = {"ecs": ecs}
    draft.note("target.ecs.target_groups", "the deployment group's target group pair")
    draft.note("target.ecs.task_definition", "appspec TaskDefinition: set TASK_DEFINITION "
                                             "to the revision to release")
    draft.plan["strategy"] = _strategy(draft, str(group.get("deploymentConfigName") or ""),
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


def _ecs_service(appspec: Any, path: str) -> dict[str, Any]:
    resources = appspec.get("Resources") if isinstance(appspec, dict) else None
    for resource in resources or []:
        for value in (resource or {}).values():
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
    blue_green = group.get("blueGreenDeploymentConfiguration") or {}
    terminate = blue_green.get("terminateBlueInstancesOnDeploymentSuccess") or {}
    minutes = terminate.get("terminationWaitTimeInMinutes")
    return {"keep_old_for": f"{int(minutes)}m"} if minutes else {}


def _alarms(draft: Draft, group: dict[str, Any], source: str) -> dict[str, Any]:
    config = group.get("alarmConfiguration") or {}
    names = [a.get("name") for a in config.get("alarms") or [] if a.get("name")]
    if config.get("ignorePollAlarmFailure"):
        draft.warn("checks", 1, "ignorePollAlarmFailure: deployer never ignores an alarm it "
                   "cannot read (it rolls back)", source)
    if names and config.get("enabled") is False:
        draft.warn("checks.alarms", 1, "alarmConfiguration enabled: false in CodeDeploy; "
                   "the plan watches these alarms", source)
    if names:
        draft.note("checks.alarms", "the deployment group's alarmConfiguration")
        return {"alarms": names}
    draft.note("checks", "no alarms in the deployment group: the canary is judged against "
                         "the stable target group instead (docs/analysis.md)")
    return {"metrics": {"error_rate": {"max_vs_stable": "2x"}}}


def _hooks(draft: Draft, appspec: dict[str, Any]) -> dict[str, Any]:
    hooks: dict[str, list[dict[str, str]]] = {}
    for entry in appspec.get("Hooks") or []:
        for event, function in (entry or {}).items():
            stage = "before_traffic" if event in BEFORE else \
                "after_traffic" if event in AFTER else None
            if stage is None:
                draft.warn("hooks", line_of(entry), f"hook {event} has no equivalent")
                continue
            hooks.setdefault(stage, []).append({"lambda": str(function)})
            draft.warn(f"hooks.{stage}", line_of(entry),
                       f"{event} hook {function} must return {{\"hookStatus\": ...}} instead "
                       "of calling PutLifecycleEventHookExecutionStatus")
    return hooks


def _name(text: str) -> str:
    import re

    return (re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-") or "imported")[:64]
