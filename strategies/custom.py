"""Custom Argo-style step lists: shift / bake / approve in any order the plan gives."""

from __future__ import annotations

from collections.abc import Sequence

from strategies.steps import Approve, Bake, Shift, Step, weight


def plan_steps(steps: Sequence[Step]) -> tuple[Step, ...]:
    """The plan's own steps, weights normalised; nothing added or reordered."""
    return tuple(Shift(weight(s.weight)) if isinstance(s, Shift) else s for s in steps)


__all__ = ["Approve", "Bake", "Shift", "plan_steps"]
