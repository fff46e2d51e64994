"""`deployer import serverless serverless.yml [--stage S]` (SPEC §10b): functions with
`deploymentSettings` (serverless-plugin-canary-deployments: `type`, `alias`,
`preTrafficHook`, `postTrafficHook`, `alarms`; defaults from `custom.deploymentSettings`,
whose `stages` lists where the plugin applies) become targets, named as the Serverless
Framework names them: `<service>-<stage>-<function key>` unless the function sets `name`.

Serverless variables are resolved where they are static — `${sls:stage}`,
`${opt:stage}`, `${self:path}`, quoted fallbacks (`${opt:stage, 'dev'}`) — and anything
else (`${env:…}`, `${ssm:…}`, `${file(…)}`, …) becomes a `${VAR}` placeholder with a
warning."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deployer.importers.draft import Draft
from deployer.importers.lambda_release import (
    HOOK_MUST_RETURN,
    checks_of,
    combine,
    plan_name,
    strategy_of,
)
from deployer.importers.resolve import env_name, literal
from deployer.importers.shapes import as_dict, as_list, is_scalar
from deployer.importers.template import ImportProblem, line_of, read_document

Resolve = Callable[[Any, str, str], str]  # (value, plan path, placeholder) -> plan text
WHAT = "a serverless.yml (Serverless Framework service)"
ALARM = "AWS::CloudWatch::Alarm"
INNERMOST = re.compile(r"\$\{([^${}]*)\}")
MARK = "\x00"  # brackets a placeholder's name while the text is still being resolved
RESOLVED = "\x01"  # brackets a resolved value: inside another variable it is a literal
NOT_CARRIED = {
    "triggerConfigurations": "CodeDeploy triggers: use notify.sns_topic",
    "codeDeployRole": "the CodeDeploy service role: deployer runs with the pipeline's role "
                      "(deployer iam-policy)",
}


@dataclass
class Variables:
    """Serverless variables of one service and stage, resolved statically."""

    document: dict[str, Any]
    stage: str | None            # --stage, when given (else opt:stage is not set)
    unresolved: list[str] = field(default_factory=list)

    def text(self, value: Any, variable: str) -> str | None:
        """A value as a plan string (`$` escaped, placeholders `${VAR}`); None when it
        is not text at all (a mapping, a list, a bool, nothing)."""
        if not is_scalar(value):
            return None
        raw = self._resolve(str(value), env_name(variable), 0)
        return _plan_text(raw)

    def _resolve(self, text: str, variable: str, depth: int) -> str:
        for _ in range(50):  # innermost first: ${opt:stage, ${self:custom.stage}}
            match = INNERMOST.search(text)
            if match is None:
                return text
            found = self._expression(match.group(1), depth)
            if found is None:
                found = f"{MARK}{variable}{MARK}"
                self.unresolved.append(f"${{{match.group(1)}}} -> ${{{variable}}}"
                                       .replace(RESOLVED, ""))
            else:
                found = f"{RESOLVED}{found}{RESOLVED}"
            text = text[:match.start()] + found + text[match.end():]
        return text

    def _expression(self, expression: str, depth: int) -> str | None:
        for alternative in (a.strip() for a in expression.split(",")):
            if RESOLVED in alternative:  # ${opt:stage, ${self:custom.stage}}: its value
                return alternative.replace(RESOLVED, "")
            if len(alternative) >= 2 and alternative[0] == alternative[-1] and \
                    alternative[0] in "'\"":
                return alternative[1:-1]
            if re.fullmatch(r"-?\d+(\.\d+)?", alternative):
                return alternative
            if MARK in alternative:  # an inner variable that could not be resolved
                continue
            found = self._source(alternative, depth)
            if found is not None:
                return found
        return None

    def _source(self, reference: str, depth: int) -> str | None:
        if reference in ("sls:stage", "self:provider.stage") or \
                (reference == "opt:stage" and self.stage is not None):
            return self.current_stage(depth)
        if reference.startswith("self:") and depth < 10:
            value: Any = self.document
            for key in reference.removeprefix("self:").split("."):
                value = value.get(key) if isinstance(value, dict) else None
            if is_scalar(value):
                return self._resolve(str(value), "VALUE", depth + 1) \
                    if MARK not in str(value) else None
        return None

    def current_stage(self, depth: int = 0) -> str:
        """--stage, else provider.stage (resolved, opt:stage unset), else dev."""
        if self.stage is not None:
            return self.stage
        given = as_dict(self.document.get("provider")).get("stage")
        if is_scalar(given) and depth < 10:
            before = list(self.unresolved)  # falling back to dev is not a placeholder
            resolved = self._resolve(str(given), "STAGE", depth + 1).replace(RESOLVED, "")
            self.unresolved[:] = before
            if MARK not in resolved and resolved:
                return resolved
        return "dev"


def _plan_text(raw: str) -> str:
    pieces = raw.replace(RESOLVED, "").split(MARK)  # literal, name, literal, name, ...
    return "".join(literal(piece) if index % 2 == 0 else f"${{{piece}}}"
                   for index, piece in enumerate(pieces))


def import_serverless(path: str, stage: str | None, combine_as: str | None) -> list[Draft]:
    document = read_document(path, WHAT)
    if not isinstance(document, dict) or not isinstance(document.get("functions"),
                                                        dict | list):
        raise ImportProblem(f"{path}: not {WHAT} (no functions)")
    names = Variables(document, stage)
    current = names.current_stage()
    functions = _functions(document.get("functions"))
    defaults = as_dict(as_dict(document.get("custom")).get("deploymentSettings"))
    stages = [str(s) for s in as_list(defaults.get("stages")) if is_scalar(s)]
    gradual = [(key, function) for key, function in functions.items()
               if isinstance(function, dict) and "deploymentSettings" in function]
    if not gradual:
        raise ImportProblem(f"{path}: no function has deploymentSettings "
                            "(serverless-plugin-canary-deployments)")
    if stages and current not in stages:
        raise ImportProblem(f"{path}: custom.deploymentSettings.stages is {stages}: stage "
                            f"{current!r} is not released gradually (pick one with --stage)")
    service = _service(names, document, path)
    unresolved = list(names.unresolved)
    drafts = [_function_plan(path, names, service, current, key, function, defaults,
                             functions, document, combined=combine_as is not None)
              for key, function in gradual]
    for draft, (_, function) in zip(drafts, gradual, strict=True):
        if unresolved and "name" not in function:
            draft.warn("target.lambda.function", draft.line, "the service name has Serverless "
                       "variables known only at deploy time: " + ", ".join(unresolved))
    return [combine(path, combine_as, drafts)] if combine_as else drafts


def _functions(value: Any) -> dict[str, Any]:
    """`functions:` as a mapping (older services write a list of one-key mappings)."""
    if isinstance(value, dict):
        return value
    merged: dict[str, Any] = {}
    for entry in as_list(value):
        merged.update(as_dict(entry))
    return merged


def _service(names: Variables, document: dict[str, Any], path: str) -> str:
    given = document.get("service")
    if isinstance(given, dict):  # the older `service: {name: ...}`
        given = given.get("name")
    names.unresolved.clear()
    service = names.text(given, "SERVICE")
    if service is None:
        raise ImportProblem(f"{path}: not {WHAT} (no service name)")
    return service


def _function_plan(path: str, names: Variables, service: str, stage: str, key: str,
                   function: dict[str, Any], defaults: dict[str, Any],
                   functions: dict[str, Any], document: dict[str, Any],
                   combined: bool) -> Draft:
    line = line_of(function)
    settings = {**defaults, **as_dict(function.get("deploymentSettings"))}
    variable = env_name(key)
    draft = Draft(plan_name(key), path, {}, line=line)
    where = "target.lambda"

    def text(value: Any, at: str, name: str) -> str:
        names.unresolved.clear()
        found = names.text(value, name)
        if found is None:
            draft.warn(at, line_of(value, line), f"{str(value)[:60]!r} is not a value deployer "
                       f"can read here: set ${{{env_name(name)}}}")
            return f"${{{env_name(name)}}}"
        if names.unresolved:
            draft.warn(at, line_of(value, line), "Serverless variables known only at deploy "
                       "time: " + ", ".join(names.unresolved))
        return found

    function_name = _function_name(text, service, stage, key, function, f"{where}.function",
                                   f"{variable}_FUNCTION")
    if "alias" in settings:
        alias = text(settings["alias"], f"{where}.alias", f"{variable}_ALIAS")
    else:
        alias = f"${{{variable}_ALIAS}}"
        draft.warn(f"{where}.alias", line, "deploymentSettings has no alias (the plugin "
                   f"requires one): set {variable}_ALIAS")
    version = f"{variable}_VERSION" if combined else "NEW_VERSION"
    draft.plan = {"version": 1, "name": draft.name, "target": {"lambda": {
        "function": function_name, "alias": alias, "version": f"${{{version}}}"}}}
    region = names.text(as_dict(document.get("provider")).get("region"), "REGION")
    if region is not None and re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        draft.plan = {"version": 1, "name": draft.name, "region": region,
                      "target": draft.plan["target"]}
        draft.note("region", "provider.region")
    draft.note(f"{where}.function", f"function {key} in stage {stage}")
    draft.note(f"{where}.version", f"the version to release: set {version} (or use "
                                   "publish: true to publish $LATEST)")
    draft.warn(f"{where}.alias", line, "serverless-plugin-canary-deployments moves the alias "
               "on every deploy: remove deploymentSettings (and the plugin) so deployer owns "
               "the alias (docs/migrating.md)")
    kind = text(settings.get("type", ""), "strategy", "DEPLOYMENT_TYPE")
    draft.plan["strategy"] = strategy_of(draft, kind, "strategy", line, "deploymentSettings type")
    alarms = [_alarm(draft, text, document, alarm, index, line)
              for index, alarm in enumerate(as_list(settings.get("alarms")))]
    draft.plan["checks"] = checks_of(draft, [a for a in alarms if a], "deploymentSettings")
    hooks: dict[str, Any] = {}
    for setting, stage_name in (("preTrafficHook", "before_traffic"),
                                ("postTrafficHook", "after_traffic")):
        if setting not in settings:
            continue
        hook_key = settings[setting]
        hook = functions.get(hook_key) if isinstance(hook_key, str) else None
        at = f"hooks.{stage_name}"
        if isinstance(hook, dict):
            name = _function_name(text, service, stage, str(hook_key), hook, at,
                                  f"{setting}_FUNCTION")
        else:
            name = text(hook_key, at, f"{setting}_FUNCTION")
            draft.warn(at, line, f"{setting} {hook_key!r} is not a function of this service: "
                                 "used as the hook's name")
        draft.warn(at, line, f"{setting} {name} {HOOK_MUST_RETURN}")
        hooks[stage_name] = [{"lambda": name}]
    if hooks:
        draft.plan["hooks"] = hooks
    for setting, why in NOT_CARRIED.items():
        if setting in settings:
            draft.warn("strategy", line, f"{setting} has no equivalent: {why}")
    return draft


def _function_name(text: Resolve, service: str, stage: str, key: str,
                   function: dict[str, Any], at: str, variable: str) -> str:
    if "name" in function:
        return text(function["name"], at, variable)
    return f"{service}-{literal(stage)}-{literal(key)}"


def _alarm(draft: Draft, text: Resolve, document: dict[str, Any], alarm: Any, index: int,
           line: int) -> str | None:
    """A string is a logical id of resources.Resources (the plugin's rule); `{name: X}` is
    an alarm name."""
    at = "checks.alarms"
    if isinstance(alarm, dict) and "name" in alarm:
        return text(alarm["name"], at, f"ALARM_{index + 1}")
    logical = alarm.get("Ref") if isinstance(alarm, dict) else alarm
    if not is_scalar(logical):
        draft.warn(at, line, f"alarm {str(alarm)[:60]!r} is neither a logical id nor "
                             "{name: ...}: left out")
        return None
    resources = as_dict(as_dict(document.get("resources")).get("Resources"))
    resource = resources.get(str(logical))
    if isinstance(resource, dict) and resource.get("Type") == ALARM and \
            "AlarmName" in as_dict(resource.get("Properties")):
        draft.note(at, f"AlarmName of {logical}")
        return text(as_dict(resource.get("Properties"))["AlarmName"], at,
                    f"ALARM_{index + 1}")
    draft.warn(at, line_of(alarm, line), f"alarm {logical} is a CloudFormation logical id: "
               "deployer needs the alarm's name (<stack>-<id>-<suffix>; preflight suggests it), "
               "or give the alarm an AlarmName")
    return literal(str(logical))
