"""Plan file -> validated ReleasePlan: YAML + ${VAR} + --set, every problem at once.

Each problem is one line `FILE:LINE:COL: path.to.field: message`; the CLI
prints them all and exits 2. Nothing here raises anything but PlanError.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from deployer.errors import PlanError
from deployer.plan.model import ReleasePlan
from deployer.plan.source import (
    PathKey,
    Position,
    Problem,
    SourceMap,
    YamlProblems,
    decode_plan_bytes,
    format_path,
    load_yaml,
)

SET_SOURCE = "--set"


@dataclass(frozen=True, slots=True)
class LoadedPlan:
    path: str
    plan: ReleasePlan
    raw: dict[str, Any]
    # `FILE: warning: ...` lines (plan/warnings.py): valid, but said out loud.
    warnings: tuple[str, ...] = ()


# What names the traffic resource itself: all an emergency rollback needs.
IDENTITY: dict[str, tuple[str, ...]] = {
    "lambda": ("function", "alias"),
    "ecs": ("cluster", "services", "service", "target_groups", "listener", "rule",
            "test_listener", "test_rule"),
    "asg": ("groups", "listener", "rule", "test_listener", "test_rule"),
    "route53": ("zone", "name", "type", "records"),
}
# Where a target lives (SPEC §13): part of its identity too.
PLACE = ("region", "role_arn", "external_id")
# A stand-in for the release's inputs (new version, image), which a rollback never uses.
_NO_RELEASE_INPUT: dict[str, dict[str, Any]] = {
    "lambda": {"publish": True},
    "ecs": {"task_definition": "(not used by a rollback)"},
    "asg": {"launch_template": {"name": "not-used-by-a-rollback", "version": "1"}},
    "route53": {},
}


def load_plan(
    path: str,
    overrides: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> LoadedPlan:
    """Read, expand, override and validate one plan; PlanError lists every problem."""
    raw, source_map, problems = _read(path, environ)
    return validate_plan(raw, source_map, path, overrides, problems)


def load_target_identity(
    path: str,
    overrides: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> LoadedPlan:
    """The plan reduced to its name, region and target identity, for `rollback PLAN`.

    In an emergency the release's inputs (`${NEW_VERSION}`, `${IMAGE_TAG}`), its
    strategy, checks and hooks do not matter and may not even be set: only problems
    in the fields that name the traffic resource are reported. The plan's strategy is
    replaced by all_at_once and its release input by a stand-in no rollback reads.
    """
    raw, source_map, problems = _read(path, environ)
    if not isinstance(raw, dict):
        return validate_plan(raw, source_map, path)
    for index, assignment in enumerate(overrides, start=1):
        problems.extend(apply_override(raw, source_map, assignment, index))
    reduced: dict[str, Any] = {k: raw[k] for k in ("version", "name", "region", "waves")
                               if k in raw}
    reduced["strategy"] = {"all_at_once": {}}
    kept = ["version", "name", "region", "waves"]
    if isinstance(raw.get("targets"), dict):  # a whole application: every target's identity
        reduced["targets"] = {}
        for name, entry in raw["targets"].items():
            block, fields = _identity_of(entry, f"targets.{name}")
            reduced["targets"][name] = block
            kept += fields
    else:
        reduced["target"], fields = _identity_of(raw.get("target"), "target")
        kept += fields
    relevant = [p for p in problems
                if p.path == "" or any(p.path == k or p.path.startswith((k + ".", k + "["))
                                       for k in kept)]
    return validate_plan(reduced, source_map, path, (), relevant, identity_only=True)


def _identity_of(target: Any, where: str) -> tuple[Any, list[str]]:
    """A target block reduced to its identity, and the paths whose problems count."""
    kind = next((k for k in IDENTITY if k in target), None) if isinstance(target, dict) \
        else None
    if kind is None or not isinstance(target, dict):
        return target, [where]
    block = target[kind] if isinstance(target[kind], dict) else {}
    reduced = {kind: {**{k: v for k, v in block.items() if k in IDENTITY[kind]},
                      **_NO_RELEASE_INPUT[kind]},
               **{k: v for k, v in target.items() if k in PLACE}}
    return reduced, [f"{where}.{kind}.{field}" for field in IDENTITY[kind]] + \
        [f"{where}.{field}" for field in PLACE]


def _read(path: str, environ: Mapping[str, str] | None) -> tuple[Any, SourceMap,
                                                                 list[Problem]]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PlanError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    try:
        text = decode_plan_bytes(data, path)
        return load_yaml(text, path, environ=environ)
    except YamlProblems as exc:
        raise PlanError([str(p) for p in exc.problems]) from None


def validate_plan(
    raw: Any,
    source_map: SourceMap,
    path: str,
    overrides: Sequence[str] = (),
    earlier: Sequence[Problem] = (),
    *,
    identity_only: bool = False,
) -> LoadedPlan:
    if not isinstance(raw, dict):
        where = source_map.locate(())
        raise PlanError([f"{where}: the plan must be a mapping (key: value), "
                         f"not a {type(raw).__name__}"])
    problems = list(earlier)
    for index, assignment in enumerate(overrides, start=1):
        problems.extend(apply_override(raw, source_map, assignment, index))
    target = raw.get("target")
    kind = next((k for k in IDENTITY if k in target), None) \
        if isinstance(target, dict) else None
    try:
        plan = ReleasePlan.model_validate(raw, context={"target_kind": kind,
                                                        "identity_only": identity_only})
    except ValidationError as exc:
        already = {p.path for p in problems}
        for error in exc.errors():
            problem = _from_pydantic(error, source_map)
            if problem.path not in already:  # e.g. the empty value a missing ${VAR} left
                problems.append(problem)
        plan = None
    if problems or plan is None:
        raise PlanError([str(p) for p in _ordered(problems)])
    if identity_only:  # a rollback's reduced plan: its warnings would be about the stand-in
        return LoadedPlan(path, plan, raw)
    from deployer.plan.warnings import plan_warnings

    return LoadedPlan(path, plan, raw,
                      tuple(f"{path}: warning: {w}" for w in plan_warnings(plan)))


def _ordered(problems: list[Problem]) -> list[Problem]:
    unique = dict.fromkeys(problems)
    return sorted(unique, key=lambda p: (p.position.source != SET_SOURCE, p.position.line,
                                         p.position.column))


# ---------------------------------------------------------------- --set

def parse_override_path(text: str) -> PathKey:
    """`hooks.before_traffic[0].lambda` or `hooks.before_traffic.0.lambda`."""
    parts: list[str | int] = []
    for piece in text.replace("[", ".").replace("]", "").split("."):
        if not piece:
            raise ValueError(f"{text!r} is not a field path (write e.g. target.lambda.version)")
        parts.append(int(piece) if piece.isdigit() else piece)
    return tuple(parts)


def apply_override(
    raw: dict[str, Any], source_map: SourceMap, assignment: str, index: int
) -> list[Problem]:
    """Apply `--set path=value` (value read as YAML) to `raw`, in place."""
    here = Position(SET_SOURCE, index, 1)
    name, sep, text = assignment.partition("=")
    if not sep:
        return [Problem(here, "", f"{assignment!r}: write --set path.to.field=value")]
    try:
        path = parse_override_path(name.strip())
    except ValueError as exc:
        return [Problem(here, "", str(exc))]
    try:
        value, value_map, _ = load_yaml(text, SET_SOURCE, expand_variables=False,
                                        line_offset=index - 1, column_offset=len(name) + 1)
    except YamlProblems:
        value, value_map = text, SourceMap({(): Position(SET_SOURCE, index, len(name) + 2)})
    if text.strip() == "":
        value = ""
    container: Any = raw
    for depth, part in enumerate(path[:-1]):
        nxt = path[depth + 1]
        if isinstance(container, dict) and isinstance(part, str):
            container = container.setdefault(part, [] if isinstance(nxt, int) else {})
        elif isinstance(container, list) and isinstance(part, int) and part <= len(container):
            if part == len(container):
                container.append([] if isinstance(nxt, int) else {})
            container = container[part]
        else:
            return [Problem(here, format_path(path[: depth + 1]),
                            f"--set {name}: cannot descend here")]
    last = path[-1]
    if isinstance(container, dict) and isinstance(last, str):
        container[last] = value
    elif isinstance(container, list) and isinstance(last, int) and last <= len(container):
        if last == len(container):
            container.append(value)
        else:
            container[last] = value
    else:
        return [Problem(here, format_path(path), f"--set {name}: cannot set this field")]
    source_map.forget_below(path)
    for sub, position in value_map.values.items():
        source_map.values[path + sub] = position
    source_map.keys[path] = Position(SET_SOURCE, index, 1)
    return []


# ---------------------------------------------------------------- pydantic -> problems

def _from_pydantic(error: Any, source_map: SourceMap) -> Problem:
    loc: PathKey = tuple(error["loc"]) + tuple((error.get("ctx") or {}).get("at", ()))
    kind = error["type"]
    if kind == "extra_forbidden":
        known = _fields_at(loc[:-1])
        import difflib  # only on this error path: it costs start-up time

        close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        message = f"unknown field {loc[-1]!r}"
        if close:
            message += f"; did you mean {close[0]!r}?"
        elif known:
            message += f" (expected one of: {', '.join(known)})"
        return Problem(source_map.locate(loc, prefer_key=True), format_path(loc), message)
    if kind == "missing":
        return Problem(source_map.locate(loc), format_path(loc), "required field is missing")
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if kind == "literal_error" and "expected" in (error.get("ctx") or {}):
        message = f"must be {error['ctx']['expected']}; got {error['input']!r}"
    elif kind not in ("plan_rule", "one_of", "preset", "pc") and message[:1].isupper():
        message = message[0].lower() + message[1:]
    return Problem(source_map.locate(loc), format_path(loc), message)


def _fields_at(loc: PathKey) -> list[str]:
    """The field names (aliases) of the model that sits at `loc`, for 'did you mean'."""
    model: Any = ReleasePlan
    for part in loc:
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return []
        model = _model_in(field.annotation)
        if model is None:
            return []
    return [f.alias or n for n, f in model.model_fields.items()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
