"""`deployer rollout --engine stepfunctions` (SPEC §11): hand a run to AWS Step Functions.

This process does what must happen before any traffic moves — locks, preflight, and
preparing the new version (publishing it, starting the new ECS tasks and waiting
until they are healthy) — then creates or updates the state machine
`deployer-NAME`, starts an execution named after the run id and returns. The
execution shifts, bakes, waits for approvals and rolls back with no deployer process
alive, keeping the run record current; `--wait` only follows that record.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from deployer.aws import AwsContext, error_code
from deployer.core.clock import RealClock, iso
from deployer.core.ports import Store, TrafficTarget
from deployer.core.record import EXIT_CODES, TRANSITIONS, Outcome, Phase, RunRecord
from deployer.core.settings import Settings
from deployer.engine.locks import holder_hint, release_locks, take_locks
from deployer.engine.window_gate import overridden, refuse_at_start
from deployer.errors import DeployerError, ExitCode, PreflightError, UsageError
from deployer.plan.loader import LoadedPlan
from deployer.plan.model import ReleasePlan
from deployer.runs.factory import build_check, build_leg, build_window, target_key, target_keys
from deployer.runs.operator import machine_aws
from deployer.runs.rollout import aws_context, new_record, window_override
from deployer.stepfunctions.analysis import analysis_input
from deployer.stepfunctions.compiler import compile_plan
from deployer.stepfunctions.history import hold_allowance
from deployer.stepfunctions.inputs import (
    execution_input,
    leg_input,
    production_actions,
    test_route_actions,
)
from deployer.stepfunctions.table import build_table
from deployer.stepfunctions.validate import check_plan_for_engine
from deployer.stepfunctions.windows import window_input
from deployer.store import open_store

LOCK_SECONDS = 366 * 86400  # a lock held by a machine-run is released when the run ends


@dataclass(frozen=True, slots=True)
class MachineOptions:
    role_arn: str
    time_scale: float = 1.0
    override_window: str | None = None  # --override-window's reason (SPEC §14)


def machine_name(plan: ReleasePlan) -> str:
    return f"deployer-{plan.name}"


DEFAULT_TABLE = "deployer-runs"


def table_for_export(settings: Settings) -> str:
    """`export` and `iam-policy` are offline: without a DynamoDB --store they name the
    table `deployer store init dynamodb://deployer-runs` creates."""
    if settings.store.startswith("dynamodb://"):
        return store_table(settings)
    import sys

    print(f"note: the run records go to dynamodb://{DEFAULT_TABLE}; pass --store "
          "dynamodb://TABLE for another table", file=sys.stderr)
    return DEFAULT_TABLE


def store_table(settings: Settings) -> str:
    if not settings.store.startswith("dynamodb://"):
        raise UsageError(f"--engine stepfunctions keeps the run record where the state "
                         f"machine can update it: a DynamoDB store, not {settings.store}",
                         hint="pass --store dynamodb://TABLE (create it with deployer store "
                              "init dynamodb://TABLE)")
    return settings.store.removeprefix("dynamodb://").strip("/")


def start_on_stepfunctions(loaded: LoadedPlan, settings: Settings,
                           options: MachineOptions) -> RunRecord:
    """Prepare, start the execution, return the record (not waiting for the outcome)."""
    plan = loaded.plan
    table = store_table(settings)
    clock = RealClock(options.time_scale)
    aws = aws_context(settings, plan.region)
    check_plan_for_engine(plan, loaded.path, aws.region)
    definition = compile_plan(plan, table)
    store = open_store(settings.store, settings)
    record = new_record(loaded, target_key(plan, aws), clock)
    if options.override_window:
        record.window_override = window_override(options.override_window, clock)
        record.add_event(clock.wall(), overridden(record.window_override["by"],
                                                  record.window_override["reason"]))
    aws.session_name = record.run_id
    record.deadline_at = None  # the machine keeps the deadline (a timestamp in its input)
    if plan.target is None:
        record.target_keys = target_keys(plan, aws)
    store.create(record)
    refusal = take_locks(store, record.locks, record.run_id,
                         clock.wall().timestamp() + LOCK_SECONDS)
    if refusal is not None:
        key, holder = refusal
        return _end(store, record, Outcome.REFUSED, f"run {holder} holds {key}",
                    hint=holder_hint(store, holder))
    targets: dict[str, TrafficTarget] = {}
    try:
        _window_at_start(plan, aws, clock, record)
        targets = _prepared_targets(plan, aws, clock, record)
        if all(t.already_done() for t in targets.values()):
            return _end(store, record, Outcome.SUCCEEDED,
                        "all traffic is already on the new version: nothing to do")
        machine_arn = _create_or_update(aws, plan, definition, options.role_arn)
        execution_arn = machine_arn.replace(":stateMachine:", ":execution:") + \
            f":{record.run_id}"
        record.engine = {"kind": "stepfunctions", "state_machine_arn": machine_arn,
                         "execution_arn": execution_arn,
                         "handed_over_at": iso(clock.wall())}
        payload = _input(plan, record, targets, aws, clock.wall(), options.time_scale)
        record.move_to(Phase.PREPARING)
        record.stage = "handed to Step Functions"
        record.add_event(clock.wall(), f"prepared; starting execution {execution_arn}")
        store.save(record)
        _start_execution(aws, machine_arn, record.run_id, payload)
    except DeployerError as exc:
        for target in targets.values():
            _discard(target)
        outcome = Outcome.REFUSED if isinstance(exc, PreflightError) else Outcome.FAILED
        return _end(store, store.load(record.run_id), outcome, exc.message, hint=exc.hint)
    return record


def _window_at_start(plan: ReleasePlan, aws: AwsContext, clock: RealClock,
                     record: RunRecord) -> None:
    """As the local engine does at its start: an unreadable window refuses, and so
    does a closed one under `outside: refuse`; the machine holds for the rest."""
    window = build_window(plan, aws)
    if window is None or record.window_override:
        return
    refuse_at_start(window.state(clock.wall()),
                    plan.refuses_outside_window)


def _prepared_targets(plan: ReleasePlan, aws: AwsContext, clock: RealClock,
                      record: RunRecord) -> dict[str, TrafficTarget]:
    targets = {leg.name: build_leg(leg.spec, aws, clock) for leg in plan.legs}
    for target in targets.values():
        target.preflight(resuming=False)
    from deployer.engine.fleet import Fleet, FleetLeg

    whole: TrafficTarget = next(iter(targets.values())) if plan.target is not None else \
        Fleet([FleetLeg(leg.name, leg.wave, targets[leg.name]) for leg in plan.legs],
              plan.wave_names, None)
    started = build_check(plan, aws, whole, clock).start()
    record.alarms = started.states
    record.muted_alarms = sorted(started.muted)  # already_firing: ignore; the machine's too
    for target in targets.values():
        if not target.already_done():
            target.prepare()
    record.target = _record_target(plan, targets)
    return targets


def _record_target(plan: ReleasePlan, targets: dict[str, TrafficTarget]) -> dict[str, Any]:
    if plan.target is not None:
        return next(iter(targets.values())).describe()
    return {"kind": "multi", "waves": plan.wave_names, "wave": 0, "already_done": sorted(
        name for name, t in targets.items() if t.already_done()),
        "targets": {leg.name: {**targets[leg.name].describe(), "wave": leg.wave + 1,
                               "weight": 0.0} for leg in plan.legs}}


def _input(plan: ReleasePlan, record: RunRecord, targets: dict[str, TrafficTarget],
           aws: AwsContext, started: datetime, time_scale: float) -> dict[str, Any]:
    legs: dict[str, dict[str, Any]] = {}
    for name, target in targets.items():
        described = target.describe()
        ecs = described["kind"] in ("ecs", "asg")  # an ALB listener's or rule's weights
        actions = production_actions(described, aws) if ecs else None
        tests = test_route_actions(described, aws) if ecs else None
        legs[name] = leg_input(name, described, plan, actions, tests)
        if target.already_done():  # rides along: every route is "all on the new version"
            legs[name]["routes"] = [legs[name]["routes"][-1]] * len(legs[name]["routes"])
    contexts = [_contexts(plan, record, targets, wave) for wave in plan.wave_names]
    analysis = None
    if plan.checks.metrics is not None:  # every target this run releases, in wave order
        waves = {leg.name: leg.wave for leg in plan.legs}
        analysis = analysis_input(
            [(name, waves[name], targets[name].metric_series())
             for wave in plan.wave_names for name in wave
             if not targets[name].already_done()], single=plan.target is not None,
            roles={leg.name: leg.spec.role_arn for leg in plan.legs if leg.spec.role_arn})
    windows = window_input(plan, started, time_scale, hold_allowance(plan))
    override = {k: record.window_override[k] for k in ("by", "reason")} \
        if record.window_override else None
    return execution_input(plan, record.run_id, legs, contexts, build_table(plan), started,
                           time_scale, record.muted_alarms, analysis, windows, override)


def _contexts(plan: ReleasePlan, record: RunRecord, targets: dict[str, TrafficTarget],
              wave: list[str]) -> dict[str, dict[str, str]]:
    """What a lambda hook receives as `deployer` (the local engine's DEPLOYER_* keys)."""
    if plan.target is not None:
        context = next(iter(targets.values())).hook_context()
    else:
        index = plan.wave_names.index(wave)
        context = {"DEPLOYER_TARGET": "multi", "DEPLOYER_WAVE": str(index + 1),
                   "DEPLOYER_WAVES": str(len(plan.wave_names)),
                   "DEPLOYER_TARGETS": ",".join(wave),
                   "DEPLOYER_TARGETS_JSON": json.dumps(
                       {name: targets[name].hook_context() for name in wave}, sort_keys=True)}
    run = {"DEPLOYER_RUN_ID": record.run_id, "DEPLOYER_PLAN": record.plan_name}
    return {"before_traffic": {**context, **run, "DEPLOYER_STAGE": "before_traffic",
                               "DEPLOYER_WEIGHT": "0"},
            "after_traffic": {**context, **run, "DEPLOYER_STAGE": "after_traffic",
                              "DEPLOYER_WEIGHT": "100"}}


def _create_or_update(aws: AwsContext, plan: ReleasePlan, definition: dict[str, Any],
                      role_arn: str) -> str:
    client = aws.client("stepfunctions")
    name = machine_name(plan)
    document = json.dumps(definition)
    try:
        created = aws.call(client.create_state_machine, name=name, definition=document,
                           roleArn=role_arn, type="STANDARD")
        return str(created["stateMachineArn"])
    except ClientError as exc:
        if error_code(exc) != "StateMachineAlreadyExists":
            raise DeployerError(f"cannot create the state machine {name}: {exc}") from exc
        arn = _existing_arn(exc, aws, name)
    try:  # running executions keep the definition they started with
        aws.call(client.update_state_machine, stateMachineArn=arn, definition=document,
                 roleArn=role_arn)
    except ClientError as exc:
        raise DeployerError(f"cannot update the state machine {name}: {exc}") from exc
    return arn


def _existing_arn(exc: ClientError, aws: AwsContext, name: str) -> str:
    client = aws.client("stepfunctions")
    paginator = client.get_paginator("list_state_machines")
    for page in paginator.paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return str(machine["stateMachineArn"])
    raise DeployerError(f"cannot create the state machine {name}: {exc}") from exc


def _start_execution(aws: AwsContext, machine_arn: str, run_id: str,
                     payload: dict[str, Any]) -> None:
    client = aws.client("stepfunctions")
    try:
        aws.call(client.start_execution, stateMachineArn=machine_arn, name=run_id,
                 input=json.dumps(payload))
    except ClientError as exc:
        raise DeployerError(f"cannot start the execution {run_id}: {exc}") from exc


def _discard(target: TrafficTarget) -> None:
    """Nothing has moved: undo what prepare did (the new ECS tasks)."""
    with contextlib.suppress(DeployerError):  # best effort: no traffic was ever on them
        target.discard_new()


def _end(store: Store, record: RunRecord, outcome: Outcome, reason: str,
         hint: str | None = None, code: ExitCode | None = None) -> RunRecord:
    record.outcome = outcome
    record.exit_code = int(code if code is not None else EXIT_CODES[outcome])
    record.reason = reason
    record.hint = hint
    record.ended_at = iso(datetime.now(UTC))
    phase = Phase.SUCCEEDED if outcome == Outcome.SUCCEEDED else Phase.FAILED
    if phase in TRANSITIONS[record.phase]:
        record.move_to(phase)
    else:  # the execution ended on AWS's say-so (settle_if_the_machine_died)
        record.phase = phase
    record.add_event(datetime.now(UTC), f"run {outcome.value}: {reason}")
    store.save(record)
    release_locks(store, record.locks, record.run_id)
    return record


def settler(store: Store, settings: Settings) -> Callable[[RunRecord], RunRecord]:
    """`settle_if_the_machine_died` for one store, as `watch` asks it."""
    return lambda record: settle_if_the_machine_died(store, record, settings)


def settle_if_the_machine_died(store: Store, record: RunRecord, settings: Settings
                               ) -> RunRecord:
    """A run whose execution has ended without ending the record (someone stopped it in
    the console; AWS failed it with States.Runtime; the last record write failed):
    end the record as AWS reports, so nobody waits on it forever and its locks free.
    Traffic may be split: the reason says so and the hint gives the way out."""
    if not record.on_stepfunctions or record.terminal:
        return record
    aws = machine_aws(record, settings)
    try:
        execution = aws.call(aws.client("stepfunctions").describe_execution,
                             executionArn=record.engine.get("execution_arn", ""))
    except ClientError as exc:
        if error_code(exc) == "ExecutionDoesNotExist" and record.phase == Phase.PREPARING:
            return _never_started(store, record, settings)
        raise DeployerError(f"cannot read the execution of run {record.run_id}: {exc}"
                            ) from exc
    status = str(execution.get("status", ""))
    if status in ("RUNNING", "PENDING_REDRIVE"):
        return record
    fresh = store.load(record.run_id)  # the machine may have ended it meanwhile
    if fresh.terminal:
        return fresh
    if status == "SUCCEEDED":
        return _end(store, fresh, Outcome.SUCCEEDED, "the execution succeeded (its last "
                    "record update did not land)")
    detail = ": ".join(str(execution[k]) for k in ("error", "cause") if execution.get(k))
    fresh.engine["execution_status"] = status
    return _end(store, fresh, Outcome.FAILED,
                f"the execution ended {status}{f' ({detail})' if detail else ''} while the "
                f"run was {fresh.phase.value}: traffic may still be split",
                hint="deployer rollback PLAN puts all traffic on the stable version",
                code=ExitCode.UNSAFE)


HANDOVER_GRACE = 120.0  # seconds between saving the hand-over and StartExecution, at most


def _never_started(store: Store, record: RunRecord, settings: Settings) -> RunRecord:
    """The record says the run was handed over but its execution does not exist. Within
    two minutes StartExecution may still be on its way; after that the CLI died in
    between: nothing moved, so the run ends failed, what was prepared for the new
    version is released, and so are its locks."""
    handed = _handed_over_at(record)
    if handed is None or datetime.now(UTC).timestamp() - handed < HANDOVER_GRACE:
        return record
    fresh = store.load(record.run_id)
    if fresh.terminal or fresh.phase != Phase.PREPARING:
        return fresh
    released = _discard_prepared(fresh, settings)
    when = datetime.fromtimestamp(handed, UTC).strftime("%H:%M:%SZ")
    return _end(store, fresh, Outcome.FAILED,
                f"its execution never started (the run was handed over at {when} and "
                f"StartExecution never came): nothing moved{released}",
                hint="release again: deployer rollout PLAN --engine stepfunctions ...")


def _handed_over_at(record: RunRecord) -> float | None:
    """When the hand-over was saved (older records: the event that says so)."""
    given = record.engine.get("handed_over_at")
    if not given:
        given = next((e.at for e in reversed(record.events)
                      if e.message.startswith("prepared; starting execution")), None)
    try:
        return datetime.fromisoformat(str(given).replace("Z", "+00:00")).timestamp() \
            if given else None
    except ValueError:
        return None


def _discard_prepared(record: RunRecord, settings: Settings) -> str:
    """Undo what the CLI prepared before the hand-over (the new ECS colour's tasks, the
    new task set); best effort, said in the reason."""
    from deployer.plan.loader import validate_plan
    from deployer.plan.source import SourceMap

    try:
        plan = validate_plan(record.plan, SourceMap(), f"<run {record.run_id}>").plan
        aws = aws_context(settings, plan.region, record.target.get("region"))
        states = record.target.get("targets") if plan.target is None else None
        for leg in plan.legs:
            state = (states or {}).get(leg.name, {}) if states is not None else record.target
            build_leg(leg.spec, aws, RealClock(), dict(state)).discard_new()
    except DeployerError as exc:
        return f"; releasing what was prepared for the new version failed: {exc.message}"
    return "; what was prepared for the new version is released"

