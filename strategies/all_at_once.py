"""All at once (the "black/red" cut-over): 0 -> 100 in one write."""

from __future__ import annotations

from strategies.steps import FULL, Shift, Step


def plan_all_at_once() -> tuple[Step, ...]:
    return (Shift(FULL),)
