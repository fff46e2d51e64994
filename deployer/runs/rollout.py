"""`deployer rollout`: plan + settings -> a run, driven to a terminal outcome.

The same path serves `demo`; `resume` enters it with an existing record.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from deployer.aws import AwsContext
from deployer.core.clock import RealClock, iso
from deployer.core.ports import Clock, Observer
from deployer.core.record import Outcome, RunRecord, new_run_id
from deployer.core.settings import Settings
from deployer.core.signals import StopSignal
from deployer.display.progress import LiveProgress, QuietObserver
from deployer.engine.controller import Controller, Timings
from deployer.errors import DeployerError, ExitCode
from deployer.plan.compile import compile_strategy
from deployer.plan.loader import LoadedPlan
from deployer.runs.factory import (
    build_check,
    build_parts,
    build_target,
    target_key,
    target_keys,
    target_warnings,
)
from deployer.runs.operator import local_identity
from deployer.store import open_store


@dataclass(frozen=True, slots=True)
class RolloutOptions:
    report: str | None = None
    report_html: str | None = None
    time_scale: float = 1.0
    dry_run: bool = False
    live: bool = False
    prompt: bool = False  # answer approvals at this terminal too
    strict: bool = False  # a warning found at the start refuses the run (exit 2)
    override_window: str | None = None  # --override-window's reason (SPEC §14)


def aws_context(settings: Settings, *fallback_regions: str | None) -> AwsContext:
    """--region wins, then the given regions in order (the plan's, a run's), then the
    environment and the profile."""
    region = next((r for r in (settings.region, *fallback_regions) if r), None)
    return AwsContext(region=region, profile=settings.profile,
                      endpoint_url=settings.endpoint_url)


def new_record(loaded: LoadedPlan, key: str, clock: Clock) -> RunRecord:
    plan = loaded.plan
    record = RunRecord(
        run_id=new_run_id(plan.name, clock.wall()), plan_name=plan.name, target_key=key,
        target={"kind": plan.target_kind}, plan=loaded.raw, started_at=iso(clock.wall()),
        time_scale=clock.time_scale,
        warnings=[w.removeprefix(f"{loaded.path}: warning: ") for w in loaded.warnings],
    )
    for warning in record.warnings:
        record.add_event(clock.wall(), f"warning: {warning}")
    if plan.deadline is not None:
        record.deadline_at = clock.now() + plan.deadline
    return record


def window_override(reason: str, clock: Clock) -> dict[str, str]:
    """The break-glass trail of `--override-window --reason TEXT`: who, why, when."""
    return {"by": local_identity(), "reason": reason.strip(), "at": iso(clock.wall())}


def rollout(loaded: LoadedPlan, settings: Settings, options: RolloutOptions) -> RunRecord | None:
    """Run the plan; None for a dry run (which only resolves and preflights)."""
    plan = loaded.plan
    clock = RealClock(options.time_scale)
    aws = aws_context(settings, plan.region)
    found = target_warnings(plan, aws, loaded.path)
    for warning in found:
        print(warning, file=sys.stderr)
    if found and options.strict:
        from deployer.errors import PlanError

        raise PlanError(found)
    loaded = replace(loaded, warnings=(*loaded.warnings, *found))
    if options.dry_run:
        target = build_target(plan, aws, clock)
        check = build_check(plan, aws, target, clock)
        target.preflight(resuming=False)
        check.start()
        print(json.dumps({"dry_run": True, "target": target.describe(),
                          "already_done": target.already_done()}, indent=2))
        return None
    store = open_store(settings.store, settings)
    steps = compile_strategy(plan.strategy)
    record = new_record(loaded, target_key(plan, aws), clock)
    if options.override_window:
        record.window_override = window_override(options.override_window, clock)
    aws.session_name = record.run_id  # what an assumed role's session is called
    if plan.target is None:
        record.target_keys = target_keys(plan, aws)
    store.create(record)
    observer: Observer = LiveProgress(len(steps)) if options.live else QuietObserver()
    if options.prompt:
        from deployer.runs.prompt import InlineApproval, Observers

        observer = Observers(observer, InlineApproval(store, local_identity()))
    parts = build_parts(plan, aws, clock, store, observer)
    stop = StopSignal()
    with stop.installed():
        record = Controller(record, steps, Timings.of(plan), parts, stop).run()
    finish_report(record, options.report, loaded.path)
    if options.report_html:
        from deployer.display.html_report import write_report_html

        write_report_html(record.document(), options.report_html)
    return record


def finish_report(record: RunRecord, report: str | None, plan_path: str | None = None) -> None:
    if report:
        write_report(record.document(), report)
    summary = f"{record.run_id}: {record.outcome.value if record.outcome else '?'}"
    if record.reason:
        summary += f": {record.reason}"
    if record.outcome == Outcome.REFUSED:  # refused before any write: say so, not a share
        summary += " (nothing changed)"
    else:
        weight = f"{record.weight:g}%" if record.weight is not None else "unknown"
        summary += f" (new version's share read back: {weight})"
    print(summary, file=sys.stderr)
    if record.hint:
        hint = record.hint
        if plan_path:  # a command to copy and paste names the plan that was run
            import shlex

            hint = hint.replace("deployer rollback PLAN",
                                f"deployer rollback {shlex.quote(plan_path)}")
        print(f"  {hint}", file=sys.stderr)


def write_report(document: dict[str, Any], path: str) -> None:
    try:
        Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise DeployerError(f"cannot write the report to {path}: {exc.strerror}") from exc


def exit_code_of(record: RunRecord | None) -> int:
    if record is None:
        return ExitCode.SUCCEEDED
    return record.exit_code if record.exit_code is not None else ExitCode.UNEXPECTED
