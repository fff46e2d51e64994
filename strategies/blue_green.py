"""Blue/green: optional partial preview with its bake, optional manual cut-over, then 100."""

from __future__ import annotations

from strategies.steps import FULL, Approve, Bake, Shift, Step, weight


def plan_blue_green(
    preview: float | None, preview_seconds: float, approve: Approve | None
) -> tuple[Step, ...]:
    steps: list[Step] = []
    if preview is not None:
        steps.append(Shift(weight(preview)))
        if preview_seconds > 0:
            steps.append(Bake(preview_seconds))
    if approve is not None:
        steps.append(approve)
    steps.append(Shift(FULL))
    return tuple(steps)
