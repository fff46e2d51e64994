"""`deployer rollback PLAN`: put 100% of the traffic on the stable version now.

Needs only the plan's target identity (plan_file.load_target_identity) and works
with no run active and with the store lost. The stable side comes from, in order:
`--to`; the newest run on this target that was not refused or failed (what a
succeeded run left serving, else the stable side of a run in progress, rolled
back or aborted); AWS itself (the alias's primary version; the colour holding the
larger weight, unless it has no tasks and the other has). It always says which.
An active run on the target is sent an abort request first, so its controller
stops instead of reporting drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deployer.core.clock import RealClock
from deployer.core.ports import Store, TrafficReading, TrafficTarget
from deployer.core.record import Outcome, RunRecord
from deployer.core.settings import Settings
from deployer.engine.fleet import Fleet, FleetLeg
from deployer.errors import DeployerError, UsageError
from deployer.logs import get_logger
from deployer.plan.loader import LoadedPlan
from deployer.plan.model import TargetSpec
from deployer.runs.factory import build_leg, target_key
from deployer.runs.operator import OperatorError, submit
from deployer.runs.rollout import aws_context

COLOURS = ("blue", "green")


@dataclass(frozen=True, slots=True)
class StableChoice:
    """The stable side (a Lambda version or an ECS colour) and where it came from."""

    side: str | None
    source: str


def runs_on(store: Store | None, key: str) -> list[RunRecord]:
    """This target's runs, oldest first; none when the store cannot be read."""
    if store is None:
        return []
    try:
        runs = [r for r in store.runs() if r.target_key == key]
    except DeployerError as exc:
        get_logger().warning("store_unreadable", error=exc.message)
        return []
    return sorted(runs, key=lambda r: r.started_at)


def stable_from_runs(runs: list[RunRecord], kind: str,
                     leg: str | None = None) -> StableChoice | None:
    """The newest run that knows the stable side (of target `leg` of an application);
    refused and failed runs never do."""
    stable_key, new_key = (("stable_version", "new_version") if kind == "lambda"
                           else ("stable_colour", "new_colour"))
    for run in reversed(runs):
        if run.outcome in (Outcome.REFUSED, Outcome.FAILED):
            continue
        target = run.target if leg is None else (run.target.get("targets") or {}).get(leg, {})
        if run.outcome == Outcome.SUCCEEDED:
            side, how = target.get(new_key), f"what run {run.run_id} (succeeded) left serving"
        else:
            state = run.outcome.value if run.outcome else "in progress"
            side, how = target.get(stable_key), f"the stable side of run {run.run_id} ({state})"
        if side:
            return StableChoice(str(side), how)
    return None


def emergency_rollback(loaded: LoadedPlan, settings: Settings, store: Store | None,
                       to: str | None, by: str
                       ) -> tuple[TrafficReading, StableChoice, dict[str, Any]]:
    plan = loaded.plan
    clock = RealClock()
    aws = aws_context(settings, plan.region)
    runs = runs_on(store, target_key(plan, aws.region))
    for run in runs:
        if not run.terminal and store is not None:
            try:
                submit(store, run.run_id, "abort", by, "emergency rollback")
            except (OperatorError, DeployerError) as exc:
                get_logger().warning("abort_request_failed", run_id=run.run_id,
                                     error=exc.message)
    kind = plan.target_kind
    if plan.target is None:
        if to is not None:
            raise UsageError("--to names one target's stable side; a whole application's "
                             "comes from its runs in the store, else from AWS, per target")
        return _whole_application(loaded, aws, clock, runs)
    if to is not None:
        if kind == "ecs" and to not in COLOURS:
            raise UsageError("for an ECS target, --to is the stable colour: blue or green")
        choice: StableChoice | None = StableChoice(to, "--to")
    else:
        choice = stable_from_runs(runs, kind)
    target = _target(loaded, aws, clock, choice)
    if choice is None:
        choice = _stable_from_aws(target)
    reading = target.rollback()
    run_ids = [r.run_id for r in runs]
    return reading, choice, {"run_id": run_ids[-1] if run_ids else None, **target.describe()}


def _whole_application(loaded: LoadedPlan, aws: Any, clock: RealClock,
                       runs: list[RunRecord]
                       ) -> tuple[TrafficReading, StableChoice, dict[str, Any]]:
    """Every target of the application at once, each from its own stable side."""
    plan = loaded.plan
    legs: list[FleetLeg] = []
    sources: list[str] = []
    for leg in plan.legs:
        choice = stable_from_runs(runs, leg.spec.kind, leg.name)
        target = _leg(leg.spec, aws, clock, choice)
        if choice is None:
            choice = _stable_from_aws(target)
        sources.append(f"{leg.name}: {choice.side}, from {choice.source}")
        legs.append(FleetLeg(leg.name, leg.wave, target))
    fleet = Fleet(legs, plan.wave_names, {"wave": len(plan.wave_names) - 1})
    try:
        reading = fleet.rollback()
    finally:
        fleet.close()
    run_ids = [r.run_id for r in runs]
    return reading, StableChoice(None, "; ".join(sources)), {
        "run_id": run_ids[-1] if run_ids else None, **fleet.describe()}


def _target(loaded: LoadedPlan, aws: Any, clock: RealClock,
            choice: StableChoice | None) -> TrafficTarget:
    assert loaded.plan.target is not None
    return _leg(loaded.plan.target, aws, clock, choice)


def _leg(spec: TargetSpec, aws: Any, clock: RealClock,
         choice: StableChoice | None) -> TrafficTarget:
    state: dict[str, Any] = {}
    if choice is not None and spec.kind == "lambda":
        state["stable_version"] = choice.side
    elif choice is not None:
        assert choice.side is not None
        state["stable_colour"], state["new_colour"] = choice.side, _other(choice.side)
    target = build_leg(spec, aws, clock, state)
    target.preflight(resuming=True)
    return target


def _stable_from_aws(target: TrafficTarget) -> StableChoice:
    from deployer.targets.ecs_alb import EcsAlbTarget
    from deployer.targets.lambda_alias import LambdaAliasTarget

    if isinstance(target, LambdaAliasTarget):
        target.stable = target.primary_version()
        return StableChoice(target.stable, "AWS: the version the alias points at (no run of "
                                           "this target in the store says)")
    assert isinstance(target, EcsAlbTarget)
    colour, why = target.serving_colour()
    target.live, target.idle = colour, _other(colour)
    return StableChoice(colour, f"AWS: {why} (no run of this target in the store says)")


def _other(colour: str) -> str:
    return "green" if colour == "blue" else "blue"
