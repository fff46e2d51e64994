"""Canary: one partial shift, a bake, then everything."""

from __future__ import annotations

from strategies.steps import FULL, Bake, Shift, Step, weight


def plan_canary(canary_weight: float, bake_seconds: float) -> tuple[Step, ...]:
    return (Shift(weight(canary_weight)), Bake(bake_seconds), Shift(FULL))
