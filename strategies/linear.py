"""Linear: +step percent every interval, the first step at t=0, capped at 100."""

from __future__ import annotations

from strategies.steps import FULL, Bake, Shift, Step, weight


def plan_linear(step: float, every_seconds: float) -> tuple[Step, ...]:
    if step <= 0:
        raise ValueError("a linear step must be positive")
    steps: list[Step] = []
    count = 1
    while True:
        current = min(weight(step * count), FULL)
        if steps:
            steps.append(Bake(every_seconds))
        steps.append(Shift(current))
        if current >= FULL:
            return tuple(steps)
        count += 1
