"""`deployer import sam TEMPLATE` (SPEC §10): every AWS::Serverless::Function with
AutoPublishAlias and a DeploymentPreference (Globals included) becomes a plan, or with
`--combine NAME` one whole-application plan. What is static is resolved (literal names,
!Sub over parameters with defaults, !Ref to an alarm with a literal AlarmName, !GetAtt
X.Arn of a hook function defined here); anything else becomes a ${VAR}, with a warning
naming its line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from deployer.importers.draft import Draft
from deployer.importers.template import ImportProblem, Located, line_of, read_document
from strategies.presets import canonical_preset_name

FUNCTION = "AWS::Serverless::Function"
ALARM = "AWS::CloudWatch::Alarm"
LAMBDA_FUNCTIONS = (FUNCTION, "AWS::Lambda::Function")
PATTERN = re.compile(r"^(Canary|Linear)(\d+)Percent(?:Every)?(\d+)Minutes?$")
NOT_CARRIED = {
    "TriggerConfigurations": "SNS triggers of the CodeDeploy deployment: use notify.sns_topic",
    "Role": "the CodeDeploy service role: deployer runs with the pipeline's role "
            "(deployer iam-policy)",
    "PassthroughCondition": "deployer always releases what the plan names",
}


@dataclass
class Resolver:
    """Turns template values into plan strings, noting what it could not resolve."""

    template: dict[str, Any]
    draft: Draft

    @property
    def resources(self) -> dict[str, Any]:
        return dict(self.template.get("Resources") or {})

    def parameter(self, name: str) -> str | None:
        spec = (self.template.get("Parameters") or {}).get(name)
        if isinstance(spec, dict) and "Default" in spec:
            return str(spec["Default"])
        return None

    def text(self, value: Any, path: str, line: int, variable: str) -> str:
        line = line_of(value, line)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, dict) and len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref" and isinstance(argument, str):
                found = self.parameter(argument)
                if found is not None:
                    self.draft.note(path, f"from parameter {argument}'s default")
                    return found
            if key == "Fn::Sub":
                resolved = self._sub(argument, path, line)
                if resolved is not None:
                    return resolved
            if key == "Fn::If" and isinstance(argument, list) and len(argument) == 3:
                self.draft.warn(path, line, f"!If on condition {argument[0]}: the first "
                                            "branch was taken")
                return self.text(argument[1], path, line, variable)
        self.draft.warn(path, line, f"{_show(value)} cannot be resolved here: set "
                                    f"${{{variable}}}")
        return f"${{{variable}}}"

    def _sub(self, argument: Any, path: str, line: int) -> str | None:
        if not isinstance(argument, str):
            return None
        missing: list[str] = []

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            found = self.parameter(name)
            if found is not None:
                return found
            variable = re.sub(r"[^A-Za-z0-9]+", "_", name.replace("AWS::", "")).upper()
            missing.append(f"{name} -> ${{{variable}}}")
            return f"${{{variable}}}"

        resolved = re.sub(r"\$\{([^}!]+)\}", replace, argument)
        if missing:
            self.draft.warn(path, line, "!Sub with values known only at deploy time: "
                                        + ", ".join(missing))
        return resolved

    def function_name(self, value: Any, path: str, line: int, variable: str) -> str:
        """A hook: !Ref / !GetAtt X.Arn of a function defined here -> its name."""
        logical = None
        if isinstance(value, dict) and "Ref" in value:
            logical = value["Ref"]
        elif isinstance(value, dict) and "Fn::GetAtt" in value:
            logical = next(iter(value["Fn::GetAtt"]))
        resource = self.resources.get(str(logical)) if logical else None
        if isinstance(resource, dict) and resource.get("Type") in LAMBDA_FUNCTIONS:
            name = (resource.get("Properties") or {}).get("FunctionName")
            if name is None:
                self.draft.warn(path, line_of(value, line),
                                f"function {logical} has no FunctionName: its logical id is "
                                "used; CloudFormation names it <stack>-<id>-<suffix>")
                return str(logical)
            return self.text(name, path, line_of(resource, line), variable)
        return self.text(value, path, line, variable)

    def alarm_name(self, value: Any, path: str, line: int, variable: str) -> str:
        logical = value.get("Ref") if isinstance(value, dict) else None
        resource = self.resources.get(str(logical)) if logical else None
        if isinstance(resource, dict) and resource.get("Type") == ALARM:
            name = (resource.get("Properties") or {}).get("AlarmName")
            if name is None:
                self.draft.warn(path, line_of(value, line),
                                f"alarm {logical} has no AlarmName: its logical id is used; "
                                "CloudFormation names it <stack>-<id>-<suffix>")
                return str(logical)
            self.draft.note(path, f"AlarmName of {logical}")
            return self.text(name, path, line_of(resource, line), variable)
        return self.text(value, path, line, variable)


def import_sam(path: str, combine: str | None) -> list[Draft]:
    template = read_document(path, "a SAM or CloudFormation template")
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise ImportProblem(f"{path}: not a SAM or CloudFormation template (no Resources)")
    defaults = ((template.get("Globals") or {}).get("Function") or {})
    found = [(logical, resource) for logical, resource in template["Resources"].items()
             if isinstance(resource, dict) and resource.get("Type") == FUNCTION]
    drafts = []
    for logical, resource in found:
        properties = {**defaults, **(resource.get("Properties") or {})}
        preference = {**(defaults.get("DeploymentPreference") or {}),
                      **((resource.get("Properties") or {}).get("DeploymentPreference") or {})}
        if not properties.get("AutoPublishAlias") or not preference:
            continue
        drafts.append(_function_plan(path, template, logical, resource, properties,
                                     preference, combined=combine is not None))
    if not drafts:
        raise ImportProblem(f"{path}: no function with AutoPublishAlias and a "
                            "DeploymentPreference")
    return [_combined(path, combine, drafts)] if combine else drafts


def _function_plan(path: str, template: dict[str, Any], logical: str, resource: Any,
                   properties: dict[str, Any], preference: dict[str, Any],
                   combined: bool) -> Draft:
    line = line_of(resource)
    variable = re.sub(r"[^A-Za-z0-9]+", "_", logical).upper()
    version = f"{variable}_VERSION" if combined else "NEW_VERSION"
    draft = Draft(_plan_name(logical), path, {}, line=line)
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
    draft.plan["strategy"] = _strategy(resolve, preference, line)
    draft.plan["checks"] = _checks(resolve, preference, line)
    hooks = _hooks(resolve, preference, line)
    if hooks:
        draft.plan["hooks"] = hooks
    if preference.get("Enabled") is False or preference.get("Enabled") == "false":
        draft.warn("strategy", line, "DeploymentPreference Enabled: false: SAM skipped "
                   "gradual deployment; the plan releases gradually")
    for key, why in NOT_CARRIED.items():
        if key in preference:
            draft.warn("strategy", line_of(preference[key], line), f"{key} has no "
                       f"equivalent: {why}")
    return draft


def _strategy(resolve: Resolver, preference: dict[str, Any], line: int) -> dict[str, Any]:
    kind = resolve.text(preference.get("Type", "AllAtOnce"), "strategy.preset", line,
                        "DEPLOYMENT_TYPE")
    try:
        name = canonical_preset_name(kind, "lambda")
        resolve.draft.note("strategy.preset", f"DeploymentPreference Type {kind}")
        return {"preset": name}
    except ValueError:
        pass
    match = PATTERN.match(kind.removeprefix("CodeDeployDefault.").removeprefix("Lambda"))
    if match:
        shape, percent, minutes = match.group(1), int(match.group(2)), int(match.group(3))
        resolve.draft.note("strategy", f"custom DeploymentPreference Type {kind}")
        if shape == "Canary":
            return {"canary": {"weight": percent, "bake": f"{minutes}m"}}
        return {"linear": {"step": percent, "every": f"{minutes}m"}}
    resolve.draft.warn("strategy", line, f"Type {kind} is not a configuration deployer "
                       "knows: a 10% canary for 5 minutes was written; write its steps")
    return {"canary": {"weight": 10, "bake": "5m"}}


def _checks(resolve: Resolver, preference: dict[str, Any], line: int) -> dict[str, Any]:
    alarms = preference.get("Alarms") or []
    names = [resolve.alarm_name(alarm, "checks.alarms", line_of(alarm, line),
                                f"ALARM_{index + 1}") for index, alarm in enumerate(alarms)]
    if names:
        return {"alarms": names}
    resolve.draft.note("checks", "SAM named no alarms: the canary is judged against the "
                                 "stable version instead (docs/analysis.md)")
    return {"metrics": {"error_rate": {"max_vs_stable": "2x"}}}


def _hooks(resolve: Resolver, preference: dict[str, Any], line: int) -> dict[str, Any]:
    hooks = preference.get("Hooks") or {}
    out: dict[str, Any] = {}
    for key, stage in (("PreTraffic", "before_traffic"), ("PostTraffic", "after_traffic")):
        if key in hooks:
            path = f"hooks.{stage}"
            name = resolve.function_name(hooks[key], path, line_of(hooks, line),
                                         f"{key.upper()}_HOOK")
            resolve.draft.warn(path, line_of(hooks, line), f"{key} hook {name} must return "
                               "{\"hookStatus\": \"Succeeded\"|\"Failed\"} instead of calling "
                               "PutLifecycleEventHookExecutionStatus")
            out[stage] = [{"lambda": name}]
    return out


def _combined(path: str, name: str, drafts: list[Draft]) -> Draft:
    """One whole-application plan: every function a target, one wave, the first
    function's strategy (a warning for each that differs)."""
    plan_name = _plan_name(name)
    combined = Draft(plan_name, path, {"version": 1, "name": plan_name, "targets": {}})
    first = drafts[0]
    for draft in drafts:
        combined.warnings += draft.warnings
        entry: dict[str, Any] = {"lambda": draft.plan["target"]["lambda"]}
        alarms = draft.plan["checks"].get("alarms")
        if alarms:
            entry["alarms"] = alarms
        combined.plan["targets"][draft.name] = entry
        for key, notes in draft.notes.items():
            if key.startswith("target."):
                combined.notes[f"targets.{draft.name}.{key.removeprefix('target.')}"] = notes
        if draft.plan["strategy"] != first.plan["strategy"]:
            combined.warn("strategy", draft.line, f"{draft.name}'s DeploymentPreference differs "
                          f"({draft.plan['strategy']}): the first function's is used")
    combined.plan["strategy"] = first.plan["strategy"]
    combined.plan["checks"] = ({"metrics": {"error_rate": {"max_vs_stable": "2x"}}}
                               if not any(d.plan["checks"].get("alarms") for d in drafts)
                               else {"poll_every": "10s"})
    hooks: dict[str, list[Any]] = {}
    for draft in drafts:  # every function's hooks, per wave (the one wave)
        for stage, entries in (draft.plan.get("hooks") or {}).items():
            hooks.setdefault(stage, []).extend(e for e in entries
                                               if e not in hooks.get(stage, []))
    if hooks:
        combined.plan["hooks"] = hooks
    return combined


def _plan_name(logical: str) -> str:
    name = re.sub(r"(?<!^)(?=[A-Z][a-z])", "-", logical)
    name = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return (name or "imported")[:64]


def _show(value: Any) -> str:
    if isinstance(value, Located) and len(value) == 1:
        ((key, argument),) = value.items()
        return f"{key} {argument!r}"[:80]
    return repr(value)[:80]
