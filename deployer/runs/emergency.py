"""`deployer rollback PLAN`: put every target back on the version it served before the
newest run that changed it, now (SPEC §3, amended in Part three).

Needs only the plan's target identity (plan_file.load_target_identity) and works with
no run active and with the store lost. Per target, the version comes from, in order:

- `--to V` (`--to NAME=V` per target of an application);
- the newest run on that target that was not refused:
  - active, or its controller dead: its stable side; a live controller is sent an abort
    request (it ends its run), a dead one's run is ended here — outcome `aborted` — and
    its locks released, so the next release can start at once;
  - succeeded: the version it replaced (the keep-old window exists for this), scaled
    back up or re-created first if keep_old_for already released it;
  - rolled back, aborted or failed: its stable side;
- AWS itself (the alias's primary version; the colour holding the larger weight, unless
  it has no tasks and the other has).

It says, per target, from what to what and why, or that there is nothing to do.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from deployer.aws import AwsContext
from deployer.core.clock import RealClock, iso
from deployer.core.ports import Store, TrafficTarget
from deployer.core.record import Outcome, Phase, RunRecord, controller_dead
from deployer.core.settings import Settings
from deployer.engine.locks import release_locks
from deployer.errors import DeployerError, ExitCode, UsageError
from deployer.logs import get_logger
from deployer.plan.loader import LoadedPlan
from deployer.plan.model import Leg
from deployer.runs.factory import build_leg, key_of, runner_account
from deployer.runs.operator import OperatorError, submit
from deployer.runs.rollout import aws_context
from deployer.store import StoreConflict
from deployer.targets.colours import COLOURS, other


@dataclass
class Decision:
    """Where one target goes back to, and why."""

    leg: Leg
    side: str | None              # a Lambda version or an ECS colour; None: ask AWS
    why: str
    state: dict[str, Any] = field(default_factory=dict)
    run: RunRecord | None = None  # the run the decision comes from


@dataclass
class Restored:
    """What the emergency rollback did to one target."""

    name: str
    before: str | None = None
    side: str | None = None
    why: str = ""
    changed: bool = False
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def line(self) -> str:
        if self.error is not None:
            return (f"{self.name}: FAILED: {self.error} (it reads "
                    f"{self.before or 'unknown'}; back to {self.side} was the aim: {self.why})")
        if not self.changed:
            return f"{self.name}: nothing to do: already on {self.side} ({self.why})"
        return f"{self.name}: {self.before} -> {self.side} ({self.why})"

    def document(self) -> dict[str, Any]:
        return {"target": self.name, "from": self.before, "to": self.side, "why": self.why,
                "changed": self.changed, "error": self.error, "warnings": self.warnings}


@dataclass
class EmergencyResult:
    targets: list[Restored]
    ended: list[str]              # dead runs ended here
    asked: list[str]              # live runs sent an abort request

    @property
    def exit_code(self) -> int:
        return ExitCode.UNSAFE if any(t.error for t in self.targets) else ExitCode.SUCCEEDED


def emergency_rollback(loaded: LoadedPlan, settings: Settings, store: Store | None,
                       to: dict[str, str], by: str) -> EmergencyResult:
    plan = loaded.plan
    aws = aws_context(settings, plan.region)
    legs = plan.legs
    unknown = sorted(set(to) - {leg.name for leg in legs})
    if unknown:
        raise UsageError(f"--to names no target of this plan: {', '.join(unknown)} "
                         f"(its targets: {', '.join(leg.name for leg in legs)})")
    runs = _runs(store)
    runner = runner_account(plan, aws)
    decisions = [_decide(leg, runs, to.get(leg.name), aws.region, runner) for leg in legs]
    involved = {d.run.run_id: d.run for d in decisions if d.run and not d.run.terminal}
    asked = []
    for run in involved.values():
        if store is not None and not controller_dead(run):
            try:  # its controller stops (and ends its run) instead of reporting drift
                submit(store, run.run_id, "abort", by, "emergency rollback")
                asked.append(run.run_id)
            except (OperatorError, DeployerError) as exc:
                get_logger().warning("abort_request_failed", run_id=run.run_id,
                                     error=exc.message)
    clock = RealClock()
    with ThreadPoolExecutor(max_workers=min(16, len(decisions))) as pool:
        restored = list(pool.map(lambda d: _restore(d, aws, clock), decisions))
    ended = []
    for run in involved.values():
        if store is None or not controller_dead(run):
            continue
        mine = [r for r, d in zip(restored, decisions, strict=True) if d.run is run]
        if all(r.error is None for r in mine) and _end_dead_run(store, run, by, mine):
            ended.append(run.run_id)
    return EmergencyResult(restored, ended, asked)


def _runs(store: Store | None) -> list[RunRecord]:
    """Every run in the store, oldest first; none when the store cannot be read."""
    if store is None:
        return []
    try:
        runs = list(store.runs())
    except DeployerError as exc:
        get_logger().warning("store_unreadable", error=exc.message)
        return []
    return sorted(runs, key=lambda r: (r.started_at, r.run_id))


def _leg_state(run: RunRecord, leg: Leg, key: str) -> dict[str, Any] | None:
    """What `run` recorded about this target: the whole record's target for a one-target
    run, the entry of that name (or with the same lock key) for an application."""
    if key not in run.locks:
        return None
    legs = run.target.get("targets") if run.target.get("kind") == "multi" else None
    if legs is None:
        return dict(run.target)
    if leg.name in legs:
        return dict(legs[leg.name])
    return None


def _decide(leg: Leg, runs: list[RunRecord], to: str | None, region: str | None,
            runner: str | None) -> Decision:
    kind = leg.spec.kind
    key = key_of(leg.spec, region, runner)
    if to is not None and kind != "lambda" and to not in COLOURS:
        raise UsageError(f"{leg.name} is an {kind} target: --to is its stable colour, blue "
                         "or green")
    for run in reversed(runs):
        if run.outcome == Outcome.REFUSED:
            continue  # a refused run changed nothing
        state = _leg_state(run, leg, key)
        side = _stable_side(state, kind) if state else None
        if state is None or side is None:
            continue
        if to is not None:
            return Decision(leg, to, "--to", _state_for(state, kind, to), run)
        if run.outcome == Outcome.SUCCEEDED:
            return Decision(leg, side, f"what run {run.run_id} (succeeded) replaced", state,
                            run)
        if not run.terminal:
            how = "its controller is dead" if controller_dead(run) else "in progress"
            return Decision(leg, side, f"the stable side of run {run.run_id} ({how})", state,
                            run)
        return Decision(leg, side, f"the stable side of run {run.run_id} "
                                   f"({run.outcome.value if run.outcome else run.phase})",
                        state, run)
    if to is not None:
        return Decision(leg, to, "--to", _state_for({}, kind, to))
    return Decision(leg, None, "")


def _stable_side(state: dict[str, Any], kind: str) -> str | None:
    side = state.get("stable_version" if kind == "lambda" else "stable_colour")
    return str(side) if side else None


def _state_for(state: dict[str, Any], kind: str, to: str) -> dict[str, Any]:
    """A run's state pointed at the `--to` side (kept as it is when that is its stable
    side; else only what names the two sides, so nothing of the other side is reused)."""
    if _stable_side(state, kind) == to:
        return state
    if kind == "lambda":
        return {"stable_version": to}
    return {"stable_colour": to, "new_colour": other(to),
            "target_groups": state.get("target_groups") or {}}


def _restore(decision: Decision, aws: AwsContext, clock: RealClock) -> Restored:
    result = Restored(decision.leg.name, why=decision.why)
    try:
        target = build_leg(decision.leg.spec, aws, clock, decision.state)
        target.preflight(resuming=True)
        if decision.side is None:
            decision.side, decision.why = _stable_from_aws(target)
            result.why = decision.why
        result.side = _side_text(target, decision.side)
        before = target.read()
        result.before = before.detail
        run = decision.run
        ending = run is not None and controller_dead(run)
        if before.new_weight == 0 and _on_side(target, decision.side):
            if ending:
                _discard(target, result)  # what the dead run prepared goes, as an abort's
            return result
        target.restore_stable()
        target.rollback()
        result.changed = True
        if run is not None and (ending or run.outcome == Outcome.SUCCEEDED):
            _discard(target, result)
    except DeployerError as exc:
        result.error = exc.message
    return result


def _discard(target: TrafficTarget, result: Restored) -> None:
    """The version rolled away from releases what it held (the new ECS colour to 0, the
    new task set deleted); traffic is already safe, so a failure is a warning."""
    try:
        target.discard_new()
    except DeployerError as exc:
        result.warnings.append(f"cleaning up the version rolled away from failed: "
                               f"{exc.message}")


def _on_side(target: TrafficTarget, side: str) -> bool:
    """Whether a reading of 0% on the new side means all traffic is on `side` (a Lambda
    target's read() cannot tell a third version apart when the new one is unknown)."""
    from deployer.targets.lambda_alias import LambdaAliasTarget

    if isinstance(target, LambdaAliasTarget):
        return target.primary_version() == side
    return True


def _side_text(target: TrafficTarget, side: str) -> str:
    described = target.describe()
    if described.get("kind") == "lambda":
        return f"version {side}"
    definition = described.get("stable_version")
    return f"{side}" + (f" ({definition})" if definition else "")


def _stable_from_aws(target: TrafficTarget) -> tuple[str, str]:
    from deployer.targets.lambda_alias import LambdaAliasTarget

    if isinstance(target, LambdaAliasTarget):
        target.stable = target.primary_version()
        return target.stable, ("AWS: the version the alias points at (no run of this "
                               "target in the store says)")
    # Every coloured target (ALB blue/green, Route 53 records) says which colour serves.
    coloured: Any = target
    colour, why = coloured.serving_colour()
    coloured.live, coloured.idle = colour, other(colour)
    return colour, f"AWS: {why} (no run of this target in the store says)"


def _end_dead_run(store: Store, run: RunRecord, by: str, restored: list[Restored]) -> bool:
    """End a run whose controller died: traffic is back on its stable side (restored
    here), so it is `aborted`; its locks go, so the next release can start at once."""
    where = "; ".join(r.line for r in restored)
    for _ in range(10):
        record = store.load(run.run_id)
        if record.terminal or not controller_dead(record):
            return False  # someone else ended it, or took it over
        now = datetime.now(UTC)
        record.move_to(Phase.ROLLING_BACK)
        record.add_event(now, f"emergency rollback by {by}: {where}")
        record.move_to(Phase.ABORTED)
        record.outcome, record.exit_code = Outcome.ABORTED, int(ExitCode.ABORTED)
        record.reason = (f"ended by an emergency rollback (deployer rollback) by {by}: its "
                         "controller was dead; traffic is back on its stable side")
        record.ended_at = iso(now)
        record.weight = record.requested_weight = 0.0
        for leg in (record.target.get("targets") or {}).values():
            leg["weight"] = 0.0
        for request in record.requests:
            if not request.get("handled"):
                request["handled"], request["note"] = True, "ended by the emergency rollback"
        record.lease = {}
        try:
            store.save(record)
        except StoreConflict:
            continue
        release_locks(store, record.locks, record.run_id)
        return True
    return False


