"""`deployer plan`: the compiled step list as a timeline (text or JSON). Offline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from deployer.plan.compile import baked_seconds, compile_strategy
from deployer.plan.durations import format_duration
from deployer.plan.model import ReleasePlan, TargetSpec
from deployer.plan.windows import HORIZON_DAYS, describe, scheduled_shifts
from strategies.steps import Approve, Bake, Shift, Step

BAR_WIDTH = 20
STEP_WIDTH_MAX = 64  # a long hook URL is cut: the bars stay on a 100-column screen


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def timeline(plan: ReleasePlan) -> list[tuple[float, Step]]:
    """Each step with its offset from the start; approvals and hooks count as instant."""
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


def _bakes(plan: ReleasePlan) -> float:
    return baked_seconds(compile_strategy(plan.strategy))


def _total(plan: ReleasePlan) -> float:
    """The whole run when nothing waits on a person or a hook: every wave's bakes and
    final bake, then the keep-old window."""
    return len(plan.wave_names) * (_bakes(plan) + plan.final_bake) + plan.keep_old_for


def _hook_rows(plan: ReleasePlan, stage: str, at: float) -> list[dict[str, Any]]:
    return [{"kind": "hook", "stage": stage, "hook": spec.label,
             "timeout_seconds": _number(spec.effective_timeout), "at": _number(at)}
            for spec in getattr(plan.hooks, stage)]


def timeline_json(plan: ReleasePlan) -> dict[str, Any]:
    steps: list[dict[str, Any]] = _hook_rows(plan, "before_traffic", 0.0)
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
    steps += _hook_rows(plan, "after_traffic", _bakes(plan))
    hooks = [*plan.hooks.before_traffic, *plan.hooks.after_traffic]
    document: dict[str, Any] = {
        "name": plan.name,
        "strategy": plan.strategy.kind,
        "steps": steps,
        "bake_seconds": _number(_bakes(plan)),
        "final_bake_seconds": _number(plan.final_bake),
        "keep_old_seconds": _number(plan.keep_old_for),
        "hooks_timeout_seconds": _number(sum(h.effective_timeout for h in hooks)),
        "total_seconds": _number(_total(plan)),
    }
    if plan.strategy.preset is not None:
        document["preset"] = plan.strategy.preset
    if plan.target is None:
        document["waves"] = plan.wave_names
        document["wave_seconds"] = _number(_bakes(plan) + plan.final_bake)
    analysis = analysis_json(plan)
    if analysis is not None:
        document["analysis"] = analysis
    return document


def _bar(weight: float) -> str:
    filled = round(weight / 100 * BAR_WIDTH)
    return "█" * filled + "░" * (BAR_WIDTH - filled)


def target_label(plan: ReleasePlan) -> str:
    if plan.target is None:
        waves = plan.wave_names
        count = sum(len(w) for w in waves)
        return (f"{count} target{'s' if count != 1 else ''} in {len(waves)} "
                f"wave{'s' if len(waves) != 1 else ''}")
    return spec_label(plan.target)


def spec_label(target: TargetSpec) -> str:
    if target.lambda_ is not None:
        spec = target.lambda_
        if spec.version is not None:
            new = f"version {spec.version}"
        elif spec.publish:
            new = "a version published from $LATEST"
        else:
            new = "a version published from new code"
        return f"lambda {spec.function}:{spec.alias} -> {new}"
    if target.asg is not None:
        asg = target.asg
        template = asg.launch_template
        return (f"asg {{{asg.groups.blue},{asg.groups.green}}} -> launch template "
                f"{template.name or template.id} version {template.version}")
    if target.route53 is not None:
        records = target.route53
        return (f"route53 {records.type} {records.name} (zone {records.zone}): "
                f"{{{records.records.blue},{records.records.green}}} -> the record without "
                "traffic")
    ecs = target.ecs
    assert ecs is not None
    new = ecs.task_definition or (ecs.image.uri if ecs.image else "?")
    if ecs.services is None:
        return f"ecs {ecs.cluster}/{ecs.service} (task sets) -> {new}"
    return f"ecs {ecs.cluster}/{{{ecs.services.blue},{ecs.services.green}}} -> {new}"


def waves_text(plan: ReleasePlan) -> list[str]:
    """For a whole application: each wave and its targets, in the order they move."""
    if plan.target is None and plan.targets is not None:
        lines = []
        for index, wave in enumerate(plan.wave_names, start=1):
            lines.append(f"  wave {index}: the steps below, then the final bake")
            lines += [f"    {name:<20} {spec_label(plan.targets[name])}"
                      + (f"  (+ alarms {', '.join(plan.targets[name].alarms)})"
                         if plan.targets[name].alarms else "") for name in wave]
        return [*lines, ""]
    return []


def timeline_text(plan: ReleasePlan, start: datetime | None = None) -> str:
    rows: list[tuple[float, str, float]] = [
        (0.0, f"before_traffic hook (≤ {format_duration(h.effective_timeout)}): {h.label}", 0.0)
        for h in plan.hooks.before_traffic]
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
        rows.append((at, what, weight))
    at = _bakes(plan)
    rows += [(at, f"after_traffic hook (≤ {format_duration(h.effective_timeout)}): {h.label}",
              100.0) for h in plan.hooks.after_traffic]
    if plan.final_bake:
        rows.append((at, f"final bake {format_duration(plan.final_bake)}", 100.0))
        at += plan.final_bake
    waves = len(plan.wave_names)
    if waves > 1:
        rows.append((at, f"waves 2-{waves}: the same, {format_duration(at)} each", 100.0))
        at += (waves - 1) * at
    if plan.keep_old_for:
        rows.append((at, f"keep the old version {format_duration(plan.keep_old_for)} "
                         "(alarms still watched)", 100.0))
        at += plan.keep_old_for
    rows.append((at, "retire the old version: done", 100.0))
    width = min(STEP_WIDTH_MAX, max(36, *(len(what) for _, what, _ in rows)))
    rows = [(at, what if len(what) <= width else what[:width - 1] + "…", share)
            for at, what, share in rows]
    lines = [
        f"{plan.name}: {strategy_label(plan)} on {target_label(plan)}",
        "",
        *waves_text(plan),
        f"  {'at':>8}  {'step':<{width}} new version's share",
    ]
    lines += [f"  {format_duration(at):>8}  {what:<{width}} {_bar(share)} {_number(share):>5}%"
              for at, what, share in rows]
    lines.append("")
    lines.append("  " + _total_text(plan))
    analysis = analysis_text(plan)
    if analysis:
        lines.append("  " + analysis)
    lines += windows_text(plan, start)
    return "\n".join(lines)


def _window_rows(plan: ReleasePlan) -> list[tuple[float, str, bool]]:
    """Every step of every wave with its offset when nothing waits: (offset, label,
    is a shift) — what the windows may hold."""
    rows: list[tuple[float, str, bool]] = []
    wave_seconds = _bakes(plan) + plan.final_bake
    for index, _ in enumerate(plan.wave_names):
        base = index * wave_seconds
        prefix = f"wave {index + 1}: " if len(plan.wave_names) > 1 else ""
        for at, step in timeline(plan):
            if isinstance(step, Shift):
                rows.append((base + at, f"{prefix}shift to {_number(step.weight)}%", True))
            elif isinstance(step, Bake):
                rows.append((base + at, f"{prefix}bake {format_duration(step.seconds)}",
                             False))
    rows.append((len(plan.wave_names) * wave_seconds + plan.keep_old_for, "done", False))
    return rows


def windows_text(plan: ReleasePlan, start: datetime | None = None) -> list[str]:
    """The plan's windows and, with `start`, when each step would run (SPEC §14)."""
    spec = plan.windows
    if spec is None:
        return []
    lines = ["", "windows:", *describe(
        [a.window().text for a in spec.allow],
        [f"{d.from_} to {d.to} {d.tz}" + (f" ({d.reason})" if d.reason else "")
         for d in spec.deny], spec.change_calendars, spec.outside.value)]
    if start is None:
        return [*lines, "  (plan --at TIME shows when each step would run)"]
    lines += ["", f"started at {start.isoformat()}:"]
    for label, when in scheduled_shifts(_window_rows(plan), spec.schedule(), start):
        shown = when.astimezone(start.tzinfo).strftime("%a %Y-%m-%d %H:%M %Z") if when \
            else f"not within {HORIZON_DAYS} days: the windows stay closed"
        lines.append(f"  {shown:<28} {label}")
    return lines


def _total_text(plan: ReleasePlan) -> str:
    waves = len(plan.wave_names)
    each = " a wave" if waves > 1 else ""
    parts = [f"{format_duration(seconds)} {what}" for seconds, what in (
        (_bakes(plan), f"of bakes{each}"), (plan.final_bake, f"final bake{each}"),
        (plan.keep_old_for, "keeping the old version")) if seconds]
    if waves > 1:
        parts.insert(0, f"{waves} waves")
    total = f"total {format_duration(_total(plan))}"
    if len(parts) > 1:
        total += f" ({', '.join(parts)})"
    elif parts:
        total += " " + parts[0].split(" ", 1)[1]
    extra = []
    approvals = sum(1 for _, s in timeline(plan) if isinstance(s, Approve))
    if approvals:
        extra.append(f"{approvals} approval{'s' if approvals > 1 else ''}")
    hooks = [*plan.hooks.before_traffic, *plan.hooks.after_traffic]
    if hooks:
        longest = format_duration(sum(h.effective_timeout for h in hooks))
        extra.append(f"{len(hooks)} hook{'s' if len(hooks) > 1 else ''} (up to {longest})")
    if extra:
        total += " plus " + " and ".join(extra)
    if plan.deadline is not None:
        total += f"; deadline {format_duration(plan.deadline)}"
    alarms = len(plan.all_alarms)
    watched = [f"{alarms} alarm{'s' if alarms != 1 else ''}"] if alarms else []
    if plan.checks.metrics is not None:
        watched.append("analysis")
    total += f"; {' and '.join(watched)} polled every {format_duration(plan.checks.poll_every)}"
    return total


def analysis_text(plan: ReleasePlan) -> str | None:
    """The analysis settings in one line, or None without checks.metrics."""
    checks = plan.checks
    if checks.metrics is None:
        return None
    bounds = []
    for metric, bound, unit in (("error_rate", checks.metrics.error_rate, "%"),
                                ("latency", checks.metrics.latency, "ms")):
        if bound is None:
            continue
        parts = []
        if bound.max is not None:
            limit = bound.max * 1000 if metric == "latency" else bound.max
            parts.append(f"max {limit:g}{unit}")
        if bound.max_vs_stable is not None:
            parts.append(f"max {bound.max_vs_stable:g}x stable's")
        bounds.append(f"{metric} {' and '.join(parts)}")
    return (f"analysis: {'; '.join(bounds)}; judged every poll over the last "
            f"{format_duration(checks.window)} (real time), at least {checks.min_requests} "
            f"requests a version, else inconclusive -> {checks.on_inconclusive.value}")


def analysis_json(plan: ReleasePlan) -> dict[str, Any] | None:
    checks = plan.checks
    if checks.metrics is None:
        return None
    metrics: dict[str, Any] = {}
    if checks.metrics.error_rate is not None:
        rate = checks.metrics.error_rate
        metrics["error_rate"] = {k: v for k, v in (("max_percent", rate.max),
                                                   ("max_vs_stable", rate.max_vs_stable))
                                 if v is not None}
    if checks.metrics.latency is not None:
        latency = checks.metrics.latency
        metrics["latency"] = {k: v for k, v in (
            ("max_ms", None if latency.max is None else _number(latency.max * 1000)),
            ("max_vs_stable", latency.max_vs_stable)) if v is not None}
    return {"metrics": metrics,
            "window_seconds": _number(checks.window), "min_requests": checks.min_requests,
            "on_inconclusive": checks.on_inconclusive.value}
