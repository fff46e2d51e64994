"""`deployer resume` and the takeover behind `abort` of a run whose controller died:
rebuild the run's collaborators from its record and continue from the recorded
phase and the weights AWS reports."""

from __future__ import annotations

from datetime import UTC, datetime

from deployer.core.clock import RealClock
from deployer.core.ports import Observer, Store
from deployer.core.record import RunRecord, lease_alive
from deployer.core.settings import Settings
from deployer.core.signals import StopSignal
from deployer.display.progress import LiveProgress, QuietObserver
from deployer.engine.controller import Controller, Timings
from deployer.errors import LockHeld
from deployer.plan.compile import compile_strategy
from deployer.plan.loader import LoadedPlan, validate_plan
from deployer.plan.source import SourceMap
from deployer.runs.factory import build_parts
from deployer.runs.operator import OperatorError, submit
from deployer.runs.rollout import aws_context


def resume_run(store: Store, run_id: str, settings: Settings, by: str, *, force: bool,
               abort_reason: str | None = None, live: bool = False) -> RunRecord:
    if abort_reason is not None:
        submit(store, run_id, "abort", by, abort_reason)
    record = store.load(run_id)
    if record.terminal:
        raise OperatorError(f"run {run_id} has already ended "
                            f"({record.outcome.value if record.outcome else record.phase})")
    if record.on_stepfunctions:
        raise OperatorError(
            f"run {run_id} is executed by AWS Step Functions "
            f"({record.engine.get('execution_arn')}): the engine owns it and needs no resume",
            hint=f"follow it with: deployer status {run_id} --watch")
    if lease_alive(record, datetime.now(UTC).timestamp()) and not force:
        owner = record.lease.get("owner", "another controller")
        until = datetime.fromtimestamp(record.lease["expires_at"], UTC).strftime("%H:%M:%SZ")
        raise LockHeld(f"run {run_id} is driven by {owner} (lease until {until})",
                       hint="wait for it, or take over anyway with --force")
    loaded: LoadedPlan = validate_plan(record.plan, SourceMap(), f"<run {run_id}>")
    plan = loaded.plan
    clock = RealClock(record.time_scale)
    # The run's region: the plan's, else the target's as recorded, unless the target
    # names a region of its own (SPEC §13: then the record says the target's, not the run's).
    recorded = None if plan.target is not None and plan.target.region else \
        record.target.get("region")
    aws = aws_context(settings, plan.region, recorded)
    aws.session_name = run_id  # a target role's session is named after the run, as before
    steps = compile_strategy(plan.strategy)
    observer: Observer = LiveProgress(len(steps)) if live else QuietObserver()
    parts = build_parts(plan, aws, clock, store, observer, record)
    stop = StopSignal()
    with stop.installed():
        return Controller(record, steps, Timings.of(plan), parts, stop).resume(by)
