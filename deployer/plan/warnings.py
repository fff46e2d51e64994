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


def plan_warnings(plan: ReleasePlan) -> list[str]:
    """Every warning of a valid plan, in a stable order."""
    warnings: list[str] = []
    if not plan.all_alarms and plan.checks.metrics is None:
        warnings.append(WATCHES_NOTHING)
    return warnings
