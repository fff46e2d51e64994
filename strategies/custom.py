"""Custom Argo-style step lists: shift / bake / approve in any order the plan gives."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from strategies.steps import Approve, Bake, Shift, Step, weight

if TYPE_CHECKING:
    from deployer.plan_model import StepSpec


def plan_steps(specs: Sequence[StepSpec]) -> tuple[Step, ...]:
    steps: list[Step] = []
    for spec in specs:
        if spec.shift is not None:
            steps.append(Shift(weight(spec.shift)))
        elif spec.bake is not None:
            steps.append(Bake(spec.bake))
        elif spec.approve is not None:
            steps.append(Approve(spec.approve.timeout, spec.approve.on_timeout))
    return tuple(steps)
