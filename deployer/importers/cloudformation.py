"""`deployer import cloudformation TEMPLATE` (SPEC §10b): what `cdk synth` writes for a
LambdaDeploymentGroup, and what a processed SAM template holds. Every AWS::Lambda::Alias
with `UpdatePolicy.CodeDeployLambdaAliasUpdate` becomes a target:

- the function through the alias's `FunctionName` (a `Ref` to an AWS::Lambda::Function:
  its FunctionName, else a placeholder, since CloudFormation generates the name);
- the alias's `Name`;
- the deployment group it names: `DeploymentConfigName` -> a preset (or a custom
  AWS::CodeDeploy::DeploymentConfig's TrafficRoutingConfig -> canary / linear),
  `AlarmConfiguration.Alarms[].Name` -> alarms;
- `BeforeAllowTrafficHook` / `AfterAllowTrafficHook` -> lambda hooks.

CDK metadata (AWS::CDK::Metadata, Metadata, Rules, the bootstrap parameter) is ignored."""

from __future__ import annotations

from typing import Any

from deployer.importers.draft import Draft
from deployer.importers.lambda_release import (
    HOOK_MUST_RETURN,
    checks_of,
    combine,
    plan_name,
    routing_strategy,
    strategy_of,
)
from deployer.importers.resolve import Resolver, env_name
from deployer.importers.shapes import as_dict, as_list, is_false, is_scalar
from deployer.importers.template import ImportProblem, line_of, read_template

ALIAS = "AWS::Lambda::Alias"
GROUP = "AWS::CodeDeploy::DeploymentGroup"
CONFIG = "AWS::CodeDeploy::DeploymentConfig"
WHAT = "a CloudFormation template (YAML or JSON, e.g. cdk.out/STACK.template.json)"


def import_cloudformation(path: str, combine_as: str | None) -> list[Draft]:
    template = read_template(path, WHAT)
    drafts = alias_drafts(path, template, combined=combine_as is not None)
    if not drafts:
        serverless = any(isinstance(r, dict) and r.get("Type") == "AWS::Serverless::Function"
                         for r in as_dict(template["Resources"]).values())
        hint = (": it is a SAM template, use `deployer import sam`" if serverless else
                " (a CDK app's alias needs a LambdaDeploymentGroup)")
        raise ImportProblem(f"{path}: no AWS::Lambda::Alias with an UpdatePolicy "
                            f"CodeDeployLambdaAliasUpdate{hint}")
    return [combine(path, combine_as, drafts)] if combine_as else drafts


def alias_drafts(path: str, template: dict[str, Any], *, combined: bool) -> list[Draft]:
    """A draft per alias under CodeDeploy; none when the template has no such alias."""
    drafts: list[Draft] = []
    taken: set[str] = set()
    for logical, resource in as_dict(template.get("Resources")).items():
        if not isinstance(resource, dict) or resource.get("Type") != ALIAS:
            continue
        update = as_dict(as_dict(resource.get("UpdatePolicy")).get("CodeDeployLambdaAliasUpdate"))
        if not update:
            continue
        draft = _alias_plan(path, template, str(logical), resource, update, combined)
        while draft.name in taken:  # two aliases of one function: two names
            draft.name = plan_name(f"{draft.name}-{len(taken)}")
            draft.plan["name"] = draft.name
        taken.add(draft.name)
        drafts.append(draft)
    return drafts


def _alias_plan(path: str, template: dict[str, Any], logical: str, resource: dict[str, Any],
                update: dict[str, Any], combined: bool) -> Draft:
    line = line_of(resource)
    properties = as_dict(resource.get("Properties"))
    function_value = properties.get("FunctionName")
    function_logical = function_value.get("Ref") if isinstance(function_value, dict) else None
    named_after = str(function_logical) if isinstance(function_logical, str) else logical
    variable = env_name(plan_name(named_after))
    draft = Draft(plan_name(named_after), path, {}, line=line)
    resolve = Resolver(template, draft)
    where = "target.lambda"
    function = resolve.function_name(function_value, f"{where}.function", line,
                                     f"{variable}_FUNCTION", unnamed="placeholder")
    alias = resolve.text(properties.get("Name"), f"{where}.alias", line, f"{variable}_ALIAS")
    version = f"{variable}_VERSION" if combined else "NEW_VERSION"
    draft.plan = {"version": 1, "name": draft.name, "target": {"lambda": {
        "function": function, "alias": alias, "version": f"${{{version}}}"}}}
    draft.note(f"{where}.alias", f"alias {logical}")
    draft.note(f"{where}.version", f"the version to release: set {version} (or use "
                                   "publish: true to publish $LATEST)")
    draft.warn(f"{where}.alias", line, f"alias {logical} is moved by CodeDeploy on every stack "
               "update: drop its deployment group (and, in the CDK, point the alias at a "
               "fixed version) so deployer owns it (docs/migrating.md)")
    group_logical = as_dict(update.get("DeploymentGroupName")).get("Ref")
    group = resolve.resource(group_logical, (GROUP,))
    group_properties = as_dict(group.get("Properties")) if group else {}
    if group is None:
        draft.warn("strategy", line, "the alias's DeploymentGroupName is not a deployment "
                   "group of this template: its configuration is unknown")
    draft.plan["strategy"] = _strategy(resolve, group_properties, line_of(group, line))
    draft.plan["checks"] = checks_of(draft, _alarms(resolve, group_properties,
                                                    line_of(group, line)),
                                     "the deployment group")
    hooks = _hooks(resolve, update, line)
    if hooks:
        draft.plan["hooks"] = hooks
    return draft


def _strategy(resolve: Resolver, group: dict[str, Any], line: int) -> dict[str, Any]:
    value = group.get("DeploymentConfigName")
    if value is None:  # CodeDeploy's default for a deployment group without one
        resolve.draft.note("strategy", "no DeploymentConfigName: CodeDeploy's default")
        return {"preset": "LambdaAllAtOnce"}
    logical = value.get("Ref") if isinstance(value, dict) else None
    config = resolve.resource(logical, (CONFIG,))
    if config is not None:
        properties = as_dict(config.get("Properties"))
        routed = routing_strategy(resolve.draft, properties, str(logical), line_of(config, line))
        if routed is not None:
            return routed
        name = properties.get("DeploymentConfigName")
        if is_scalar(name):
            value = name
    kind = resolve.text(value, "strategy", line, "DEPLOYMENT_CONFIG")
    if "${" in kind:  # unresolved: strategy_of would only say it does not know it
        resolve.draft.warn("strategy", line, "a 10% canary for 5 minutes stands in for a "
                                             "deployment config known at deploy time")
        return {"canary": {"weight": 10, "bake": "5m"}}
    return strategy_of(resolve.draft, kind.replace("$$", "$"), "strategy", line,
                       "DeploymentConfigName")


def _alarms(resolve: Resolver, group: dict[str, Any], line: int) -> list[str]:
    config = as_dict(group.get("AlarmConfiguration"))
    names = []
    for index, alarm in enumerate(as_list(config.get("Alarms"))):
        value = alarm.get("Name") if isinstance(alarm, dict) else alarm
        names.append(resolve.alarm_name(value, "checks.alarms", line_of(alarm, line),
                                        f"ALARM_{index + 1}", unnamed="placeholder"))
    enabled = config.get("Enabled")
    if names and is_false(enabled):
        resolve.draft.warn("checks.alarms", line, "AlarmConfiguration Enabled: false in "
                           "CodeDeploy; the plan watches these alarms")
    if config.get("IgnorePollAlarmFailure") is True:
        resolve.draft.warn("checks", line, "IgnorePollAlarmFailure: deployer never ignores an "
                           "alarm it cannot read (it rolls back)")
    return names


def _hooks(resolve: Resolver, update: dict[str, Any], line: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, stage in (("BeforeAllowTrafficHook", "before_traffic"),
                       ("AfterAllowTrafficHook", "after_traffic")):
        if key not in update:
            continue
        path = f"hooks.{stage}"
        name = resolve.function_name(update[key], path, line_of(update, line),
                                     f"{stage.upper()}_HOOK", unnamed="placeholder")
        resolve.draft.warn(path, line_of(update, line), f"{key} {name} {HOOK_MUST_RETURN}")
        out[stage] = [{"lambda": name}]
    return out
