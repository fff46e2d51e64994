"""What every Lambda importer (SAM, CloudFormation / the CDK, the Serverless Framework)
writes the same way: a deployment type -> a strategy, alarm names -> checks (or
analysis that never rolls a quiet release back), hooks, plan names, and several
functions combined into one whole-application plan."""

from __future__ import annotations

import re
from typing import Any

from deployer.importers.draft import Draft
from strategies.presets import canonical_preset_name

PATTERN = re.compile(r"^(Canary|Linear)(\d+)Percent(?:Every)?(\d+)Minutes?$")
# CodeDeploy allows a deployment that watches nothing; deployer then judges the new
# version against the stable one. `promote`: too little traffic to judge (a quiet
# function) goes on, as it would have under CodeDeploy, instead of rolling back.
NO_ALARMS_CHECKS: dict[str, Any] = {"metrics": {"error_rate": {"max_vs_stable": "2x"}},
                                    "on_inconclusive": "promote"}
# What a CodeDeploy hook must change to run under deployer (docs/migrating.md).
HOOK_MUST_RETURN = ("must return {\"hookStatus\": \"Succeeded\"|\"Failed\"} instead of "
                    "calling PutLifecycleEventHookExecutionStatus")
NO_ALARMS_NOTE = ("a quiet function (too few requests to judge) "
                  "is released as CodeDeploy would have released it, never rolled back for that")


def strategy_of(draft: Draft, kind: str, path: str, line: int, source: str | None = None
                ) -> dict[str, Any]:
    """A Lambda deployment type (`Canary10Percent5Minutes`,
    `CodeDeployDefault.LambdaLinear10PercentEvery1Minute`, a custom `Canary15Percent7Minutes`)
    -> a strategy; anything else a stand-in canary with a warning."""
    try:
        name = canonical_preset_name(kind, "lambda")
        draft.note(f"{path}.preset", f"{source or 'deployment type'} {kind}")
        return {"preset": name}
    except ValueError:
        pass
    match = PATTERN.match(kind.removeprefix("CodeDeployDefault.").removeprefix("Lambda"))
    if match:
        shape, percent, minutes = match.group(1), int(match.group(2)), int(match.group(3))
        if 0 < percent <= 100 and minutes > 0:
            draft.note(path, f"custom {source or 'deployment type'} {kind}")
            if shape == "Canary":
                return {"canary": {"weight": percent, "bake": f"{minutes}m"}}
            return {"linear": {"step": percent, "every": f"{minutes}m"}}
    draft.warn(path, line, f"deployment type {kind!r} is not a configuration deployer knows: "
                           "a 10% canary for 5 minutes was written; write its steps")
    return {"canary": {"weight": 10, "bake": "5m"}}


def routing_strategy(draft: Draft, config: dict[str, Any], logical: str, line: int
                     ) -> dict[str, Any] | None:
    """An AWS::CodeDeploy::DeploymentConfig's TrafficRoutingConfig -> a strategy."""
    routing = config.get("TrafficRoutingConfig")
    if not isinstance(routing, dict):
        return None
    kind = routing.get("Type")
    canary, linear = routing.get("TimeBasedCanary"), routing.get("TimeBasedLinear")
    draft.note("strategy", f"the custom deployment config {logical}")
    if kind == "AllAtOnce":
        return {"all_at_once": {}}
    if kind == "TimeBasedCanary" and isinstance(canary, dict):
        percent, minutes = _whole(canary.get("CanaryPercentage"), 1, 100), \
            _whole(canary.get("CanaryInterval"), 1, 10_000)
        if percent is not None and minutes is not None:
            return {"canary": {"weight": percent, "bake": f"{minutes}m"}}
    if kind == "TimeBasedLinear" and isinstance(linear, dict):
        percent, minutes = _whole(linear.get("LinearPercentage"), 1, 100), \
            _whole(linear.get("LinearInterval"), 1, 10_000)
        if percent is not None and minutes is not None:
            return {"linear": {"step": percent, "every": f"{minutes}m"}}
    draft.warn("strategy", line, f"deployment config {logical} has a TrafficRoutingConfig "
                                 "deployer cannot read: a 10% canary for 5 minutes was "
                                 "written; write its steps")
    return {"canary": {"weight": 10, "bake": "5m"}}


def _whole(value: Any, low: int, high: int) -> int | None:
    """A whole number in [low, high], written as a number or as digits; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 8:
        number = int(value)
    else:
        return None
    return number if low <= number <= high else None


def checks_of(draft: Draft, names: list[str], source: str) -> dict[str, Any]:
    """The plan's checks: the alarms the source names, else analysis against the stable
    version that never rolls a quiet release back."""
    if names:
        return {"alarms": list(dict.fromkeys(names))}
    draft.note("checks", f"{source} named no alarms: the canary is judged against the "
                         "stable version instead (docs/analysis.md)")
    draft.note("checks.on_inconclusive", NO_ALARMS_NOTE)
    return dict(NO_ALARMS_CHECKS)


def plan_name(text: str) -> str:
    """A plan name ([a-z0-9-], at most 64) from a logical id, a function key or a name;
    the CDK's hash suffix (8 hex digits) is dropped."""
    text = re.sub(r"(?<=[a-z])[0-9A-F]{8}$", "", text)
    name = re.sub(r"(?<!^)(?=[A-Z][a-z])", "-", text)
    name = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    name = re.sub(r"-{2,}", "-", name)
    return (name or "imported")[:64].strip("-") or "imported"


def combine(path: str, name: str, drafts: list[Draft]) -> Draft:
    """One whole-application plan: every function a target with its own alarms, one wave,
    the first function's strategy (a warning for each that differs); analysis (that
    never rolls a quiet release back) when some function names no alarm."""
    plan_id = plan_name(name)
    combined = Draft(plan_id, path, {"version": 1, "name": plan_id, "targets": {}})
    first = drafts[0]
    names: dict[str, int] = {}
    for draft in drafts:
        combined.warnings += draft.warnings
        target = draft.name if draft.name not in names else f"{draft.name}-{names[draft.name]}"
        names[draft.name] = names.get(draft.name, 1) + 1
        entry: dict[str, Any] = {"lambda": draft.plan["target"]["lambda"]}
        alarms = draft.plan["checks"].get("alarms")
        if alarms:
            entry["alarms"] = alarms
        combined.plan["targets"][target] = entry
        for key, notes in draft.notes.items():
            if key.startswith("target."):
                combined.notes[f"targets.{target}.{key.removeprefix('target.')}"] = notes
        if draft.plan["strategy"] != first.plan["strategy"]:
            combined.warn("strategy", draft.line, f"{draft.name}'s deployment type differs "
                          f"({draft.plan['strategy']}): the first function's is used")
    combined.plan["strategy"] = first.plan["strategy"]
    if any(not d.plan["checks"].get("alarms") for d in drafts):
        unwatched = [d.name for d in drafts if not d.plan["checks"].get("alarms")]
        combined.plan["checks"] = checks_of(combined, [], ", ".join(unwatched))
    hooks: dict[str, list[Any]] = {}
    for draft in drafts:  # every function's hooks, in the one wave
        for stage, entries in (draft.plan.get("hooks") or {}).items():
            hooks.setdefault(stage, []).extend(e for e in entries
                                               if e not in hooks.get(stage, []))
    if hooks:
        combined.plan["hooks"] = hooks
    return combined
