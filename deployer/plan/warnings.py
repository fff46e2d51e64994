"""What a valid plan may still get wrong: warnings, printed by `validate`, `plan` and
`rollout` as `FILE: warning: ...` and kept in the run record. `--strict` turns each
into exit 2, for teams that enforce them in CI.

A warning marks where deployer would be stricter than the tools users come from
(CodeDeploy, SAM, ECS accept a deployment that watches nothing): it is accepted,
said loudly, and refusable on demand — never a dead end.
"""

from __future__ import annotations

from deployer.plan.model import ReleasePlan

WATCHES_NOTHING = (
    "this release watches nothing (no checks.alarms, checks.metrics or per-target alarms): "
    "only hooks, approvals, the deadline and operators can stop it; add alarms or metrics "
    "so it can roll back by itself (--strict refuses such a plan)")


WINDOWS_NOT_ENFORCED = (
    "windows: deployment windows are checked and shown but not yet enforced by this "
    "version of deployer, so rollout refuses this plan (exit 2) rather than release "
    "outside them; remove the block and hold the release yourself, or use a version "
    "that enforces them")


def plan_warnings(plan: ReleasePlan) -> list[str]:
    """Every warning of a valid plan, in a stable order."""
    warnings: list[str] = []
    if not plan.all_alarms and plan.checks.metrics is None:
        warnings.append(WATCHES_NOTHING)
    if plan.windows is not None:
        warnings.append(WINDOWS_NOT_ENFORCED)
    return warnings


def refuse_unenforced(plan: ReleasePlan, path: str) -> None:
    """Fail closed: a plan whose windows this version cannot enforce never runs."""
    if plan.windows is not None:
        from deployer.errors import PlanError

        raise PlanError([f"{path}: {WINDOWS_NOT_ENFORCED}"])
