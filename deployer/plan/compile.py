"""Dispatch a validated strategy spec to its compiler."""

from __future__ import annotations

from typing import TYPE_CHECKING

from strategies.all_at_once import plan_all_at_once
from strategies.blue_green import plan_blue_green
from strategies.canary import plan_canary
from strategies.custom import plan_steps
from strategies.linear import plan_linear
from strategies.presets import plan_preset
from strategies.steps import Approve, Bake, Shift, Step

if TYPE_CHECKING:
    from deployer.plan.model import StepSpec, StrategySpec


def compile_strategy(spec: StrategySpec) -> tuple[Step, ...]:
    if spec.canary is not None:
        return plan_canary(spec.canary.weight, spec.canary.bake)
    if spec.linear is not None:
        return plan_linear(spec.linear.step, spec.linear.every)
    if spec.blue_green is not None:
        gate = spec.blue_green.approve
        approve = Approve(gate.timeout, gate.on_timeout) if gate is not None else None
        return plan_blue_green(spec.blue_green.preview, spec.blue_green.preview_for, approve)
    if spec.preset is not None:
        return plan_preset(spec.preset)
    if spec.steps is not None:
        return plan_steps([_step(s) for s in spec.steps])
    return plan_all_at_once()


def baked_seconds(steps: tuple[Step, ...]) -> float:
    """Planned waiting time; approvals count as instant."""
    return sum(step.seconds for step in steps if isinstance(step, Bake))


def _step(spec: StepSpec) -> Step:
    if spec.shift is not None:
        return Shift(spec.shift)
    if spec.bake is not None:
        return Bake(spec.bake)
    assert spec.approve is not None
    return Approve(spec.approve.timeout, spec.approve.on_timeout)
