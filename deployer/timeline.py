"""`deployer plan`: the compiled step list as a timeline (text or JSON). Offline."""

from __future__ import annotations

from typing import Any

from deployer.durations import format_duration
from deployer.plan_model import ReleasePlan
from strategies.compile import baked_seconds, compile_strategy
from strategies.steps import Approve, Bake, Shift, Step

BAR_WIDTH = 20


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def timeline(plan: ReleasePlan) -> list[tuple[float, Step]]:
    """Each step with its offset from the start; approvals count as instant."""
    at = 0.0
    rows: list[tuple[float, Step]] = []
    for step in compile_strategy(plan.strategy):
        rows.append((at, step))
        if isinstance(step, Bake):
            at += step.seconds
    return rows


def strategy_label(plan: ReleasePlan) -> str:
    spec = plan.strategy
    if spec.preset is not None:
        return f"preset {spec.preset}"
    return spec.kind


def timeline_json(plan: ReleasePlan) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    for at, step in timeline(plan):
        entry: dict[str, Any] = {"kind": step.kind.value}
        if isinstance(step, Shift):
            entry["weight"] = _number(step.weight)
        elif isinstance(step, Bake):
            entry["seconds"] = _number(step.seconds)
        else:
            entry["timeout_seconds"] = _number(step.timeout)
            entry["on_timeout"] = step.on_timeout.value
        entry["at"] = _number(at)
        steps.append(entry)
    document: dict[str, Any] = {
        "name": plan.name,
        "strategy": plan.strategy.kind,
        "steps": steps,
        "final_bake_seconds": _number(plan.final_bake),
        "total_seconds": _number(_total(plan)),
    }
    if plan.strategy.preset is not None:
        document["preset"] = plan.strategy.preset
    return document


def _total(plan: ReleasePlan) -> float:
    return baked_seconds(compile_strategy(plan.strategy)) + plan.final_bake


def _bar(weight: float) -> str:
    filled = round(weight / 100 * BAR_WIDTH)
    return "█" * filled + "░" * (BAR_WIDTH - filled)


def target_label(plan: ReleasePlan) -> str:
    if plan.target.lambda_ is not None:
        spec = plan.target.lambda_
        if spec.version is not None:
            new = f"version {spec.version}"
        elif spec.publish:
            new = "a version published from $LATEST"
        else:
            new = "a version published from new code"
        return f"lambda {spec.function}:{spec.alias} -> {new}"
    ecs = plan.target.ecs
    assert ecs is not None
    new = ecs.task_definition or (ecs.image.uri if ecs.image else "?")
    return f"ecs {ecs.cluster}/{{{ecs.services.blue},{ecs.services.green}}} -> {new}"


def timeline_text(plan: ReleasePlan) -> str:
    lines = [
        f"{plan.name}: {strategy_label(plan)} on {target_label(plan)}",
        "",
        f"  {'at':>8}  {'step':<36} new version's share",
    ]
    weight = 0.0
    for at, step in timeline(plan):
        if isinstance(step, Shift):
            weight = step.weight
            what = f"shift to {_number(step.weight)}%"
        elif isinstance(step, Bake):
            what = f"bake {format_duration(step.seconds)}"
        else:
            what = (f"approve (timeout {format_duration(step.timeout)}, "
                    f"then {step.on_timeout.value})")
        share = f"{_bar(weight)} {_number(weight):>5}%"
        lines.append(f"  {format_duration(at):>8}  {what:<36} {share}")
    steps_end = _total(plan) - plan.final_bake
    if plan.final_bake:
        lines.append(f"  {format_duration(steps_end):>8}  "
                     f"{'final bake ' + format_duration(plan.final_bake):<36} "
                     f"{_bar(100)} {100:>5}%")
    lines.append("")
    total = f"total {format_duration(_total(plan))} of bakes"
    approvals = sum(1 for _, s in timeline(plan) if isinstance(s, Approve))
    if approvals:
        total += f" plus {approvals} approval{'s' if approvals > 1 else ''}"
    if plan.deadline is not None:
        total += f"; deadline {format_duration(plan.deadline)}"
    alarms = len(plan.checks.alarms)
    total += (f"; {alarms} alarm{'s' if alarms != 1 else ''} polled every "
              f"{format_duration(plan.checks.poll_every)}")
    lines.append("  " + total)
    return "\n".join(lines)
