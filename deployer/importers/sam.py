"""`deployer import sam TEMPLATE` (SPEC §10): every AWS::Serverless::Function with
AutoPublishAlias and a DeploymentPreference (Globals included) becomes a plan, or with
`--combine NAME` one whole-application plan. A template with no such function but with
aliases under CodeDeploy (a processed SAM template, a CDK app) is read as
`import cloudformation` reads it (SPEC §10b). Values go through resolve.py."""

from __future__ import annotations

from typing import Any

from deployer.importers.draft import Draft
from deployer.importers.lambda_release import (
    HOOK_MUST_RETURN,
    checks_of,
    combine,
    plan_name,
    strategy_of,
)
from deployer.importers.resolve import Resolver, env_name
from deployer.importers.shapes import as_dict, as_list, is_false
from deployer.importers.template import ImportProblem, line_of, read_template

FUNCTION = "AWS::Serverless::Function"
NOT_CARRIED = {
    "TriggerConfigurations": "SNS triggers of the CodeDeploy deployment: use notify.sns_topic",
    "Role": "the CodeDeploy service role: deployer runs with the pipeline's role "
            "(deployer iam-policy)",
    "PassthroughCondition": "deployer always releases what the plan names",
}


def import_sam(path: str, combine_as: str | None) -> list[Draft]:
    template = read_template(path, "a SAM or CloudFormation template")
    defaults = as_dict(as_dict(template.get("Globals")).get("Function"))
    drafts = []
    for logical, resource in as_dict(template["Resources"]).items():
        if not isinstance(resource, dict) or resource.get("Type") != FUNCTION:
            continue
        own = as_dict(resource.get("Properties"))
        properties = {**defaults, **own}
        preference = {**as_dict(defaults.get("DeploymentPreference")),
                      **as_dict(own.get("DeploymentPreference"))}
        if not properties.get("AutoPublishAlias") or not preference:
            continue
        drafts.append(_function_plan(path, template, str(logical), resource, properties,
                                     preference, combined=combine_as is not None))
    if not drafts:
        from deployer.importers.cloudformation import alias_drafts

        drafts = alias_drafts(path, template, combined=combine_as is not None)
        if not drafts:
            raise ImportProblem(f"{path}: no function with AutoPublishAlias and a "
                                "DeploymentPreference, and no AWS::Lambda::Alias with a "
                                "CodeDeployLambdaAliasUpdate policy")
    return [combine(path, combine_as, drafts)] if combine_as else drafts


def _function_plan(path: str, template: dict[str, Any], logical: str, resource: Any,
                   properties: dict[str, Any], preference: dict[str, Any],
                   combined: bool) -> Draft:
    line = line_of(resource)
    variable = env_name(logical)
    version = f"{variable}_VERSION" if combined else "NEW_VERSION"
    draft = Draft(plan_name(logical), path, {}, line=line)
    resolve = Resolver(template, draft)
    where = "target.lambda"
    if "FunctionName" in properties:
        function = resolve.text(properties["FunctionName"], f"{where}.function", line,
                                f"{variable}_FUNCTION")
    else:
        function = logical
        draft.warn(f"{where}.function", line, f"{logical} has no FunctionName: its logical "
                   "id is used; CloudFormation names it <stack>-<id>-<suffix>")
    alias = resolve.text(properties["AutoPublishAlias"], f"{where}.alias", line,
                         f"{variable}_ALIAS")
    draft.plan = {"version": 1, "name": draft.name, "target": {"lambda": {
        "function": function, "alias": alias, "version": f"${{{version}}}"}}}
    draft.note(f"{where}.version", f"the version to release: set {version} (or use "
                                   "publish: true to publish $LATEST)")
    draft.warn(f"{where}.alias", line_of(properties["AutoPublishAlias"], line),
               "AutoPublishAlias moves the alias itself on every sam deploy: remove it and "
               "the DeploymentPreference so deployer owns the alias (docs/migrating.md)")
    kind = resolve.text(preference.get("Type", "AllAtOnce"), "strategy.preset", line,
                        "DEPLOYMENT_TYPE")
    draft.plan["strategy"] = strategy_of(draft, kind, "strategy", line,
                                         "DeploymentPreference Type")
    alarms = [resolve.alarm_name(alarm, "checks.alarms", line_of(alarm, line),
                                 f"ALARM_{index + 1}")
              for index, alarm in enumerate(as_list(preference.get("Alarms")))]
    draft.plan["checks"] = checks_of(draft, alarms, "SAM")
    hooks = _hooks(resolve, as_dict(preference.get("Hooks")), line)
    if hooks:
        draft.plan["hooks"] = hooks
    enabled = preference.get("Enabled")
    if is_false(enabled):
        draft.warn("strategy", line, "DeploymentPreference Enabled: false: SAM skipped "
                   "gradual deployment; the plan releases gradually")
    for key, why in NOT_CARRIED.items():
        if key in preference:
            draft.warn("strategy", line_of(preference[key], line), f"{key} has no "
                       f"equivalent: {why}")
    return draft


def _hooks(resolve: Resolver, hooks: dict[str, Any], line: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, stage in (("PreTraffic", "before_traffic"), ("PostTraffic", "after_traffic")):
        if key in hooks:
            path = f"hooks.{stage}"
            name = resolve.function_name(hooks[key], path, line_of(hooks, line),
                                         f"{key.upper()}_HOOK")
            resolve.draft.warn(path, line_of(hooks, line),
                               f"{key} hook {name} {HOOK_MUST_RETURN}")
            out[stage] = [{"lambda": name}]
    return out
