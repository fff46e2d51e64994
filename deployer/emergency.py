"""`deployer rollback PLAN`: put 100% of the traffic on the stable version now.

Works with no run active and with the store lost. The stable version comes from
`--to`, else from the newest run on this target in the store, else (Lambda) the
alias's primary version. An active run on the target is sent an abort request
first, so its controller stops instead of reporting drift.
"""

from __future__ import annotations

from typing import Any

from deployer.cli_options import Settings
from deployer.clock import RealClock
from deployer.errors import DeployerError, UsageError
from deployer.factory import build_target, target_key
from deployer.logs import get_logger
from deployer.operator import OperatorError, submit
from deployer.plan_file import LoadedPlan
from deployer.ports import Store, TrafficReading, TrafficTarget
from deployer.record import RunRecord
from deployer.rollout import aws_context


def newest_run(store: Store | None, key: str) -> RunRecord | None:
    if store is None:
        return None
    try:
        runs = [r for r in store.runs() if r.target_key == key]
    except DeployerError as exc:
        get_logger().warning("store_unreadable", error=exc.message)
        return None
    runs.sort(key=lambda r: (not r.terminal, r.started_at))
    return runs[-1] if runs else None


def emergency_rollback(loaded: LoadedPlan, settings: Settings, store: Store | None,
                       to: str | None, by: str) -> tuple[TrafficReading, dict[str, Any]]:
    plan = loaded.plan
    clock = RealClock()
    aws = aws_context(settings, plan.region)
    run = newest_run(store, target_key(plan, aws.region))
    state: dict[str, Any] = dict(run.target) if run else {}
    if run is not None and not run.terminal and store is not None:
        try:
            submit(store, run.run_id, "abort", by, "emergency rollback")
        except (OperatorError, DeployerError) as exc:
            get_logger().warning("abort_request_failed", run_id=run.run_id, error=exc.message)
    if plan.target.lambda_ is not None:
        if to is not None:
            state["stable_version"] = to
        from deployer.targets.lambda_alias import LambdaAliasTarget

        lambda_target = LambdaAliasTarget(plan.target.lambda_, aws, clock, state)
        if not state.get("stable_version"):
            lambda_target.stable = lambda_target.primary_version()
        target: TrafficTarget = lambda_target
    else:
        if to is not None:
            if to not in ("blue", "green"):
                raise UsageError("for an ECS target, --to is the stable colour: blue or green")
            state["stable_colour"], state["new_colour"] = to, ("green" if to == "blue"
                                                               else "blue")
        if not state.get("stable_colour"):
            raise UsageError("no run of this target in the store says which colour is stable; "
                             "pass --to blue or --to green")
        target = build_target(plan, aws, clock, state)
    target.preflight(resuming=True)
    reading = target.rollback()
    return reading, {"run_id": run.run_id if run else None, **target.describe()}
