"""A plan as the flat table of steps the state machine walks (SPEC §11).

The strategy's steps run once per wave, between the wave's hooks; the final bake
ends each wave; keep-old and retiring the old versions come once, after the last.
The table is part of the definition (a Pass state's literal): the machine itself is
the same loop for every strategy, and the table is what `export` shows per plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from deployer.plan.compile import compile_strategy
from deployer.plan.durations import format_duration
from deployer.plan.model import EXTEND_FACTOR, ApproveSpec, OnInconclusive, ReleasePlan
from strategies.steps import Approve, Bake, Shift, Step


@dataclass(frozen=True, slots=True)
class Entry:
    # wave | before_traffic | shift | bake | approve | after_traffic | retire | done
    kind: str
    phase: str
    message: str
    stage: str = ""
    wave: int = 0
    index: int = 0       # the strategy step's index (the record's step_index)
    weight: float = 0.0  # shift: the new version's share
    route: int = 0       # shift: which of each target's routes (1 = the first shift)
    polls: int = 0       # bake: how many polls
    seconds: float = 0.0  # bake: how long
    timeout: float = 0.0  # approve: seconds before on_timeout
    on_timeout: str = "rollback"
    deadline: bool = True  # whether the plan's deadline still applies
    # bake: judged at its end by analysis' on_inconclusive (strategy and final bakes)
    judged: bool = False
    label: str = ""        # bake: as the local engine names it ("bake 5m", "final bake 2m")
    gate: str = ""         # bake with on_inconclusive approve: the analysis gate's stage

    def document(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.judged:  # on_inconclusive: extend runs the bake to EXTEND_FACTOR times
            extra = {"judged": True, "label": self.label, "gate": self.gate,
                     "more": self.polls * (EXTEND_FACTOR - 1),
                     "extend_to": format_duration(EXTEND_FACTOR * self.seconds)}
        return {**extra, "kind": self.kind, "phase": self.phase, "message": self.message,
                "stage": self.stage, "wave": self.wave, "index": self.index,
                "weight": int(self.weight) if float(self.weight).is_integer() else self.weight,
                "route": self.route, "polls": self.polls,
                "timeout": self.timeout, "on_timeout": self.on_timeout,
                "deadline": self.deadline}


def polls_for(seconds: float, poll_every: float) -> int:
    return max(1, math.ceil(seconds / poll_every))


def shift_weights(steps: tuple[Step, ...]) -> list[float]:
    """The weights the strategy shifts to, in order (route 1, 2, ...)."""
    return [s.weight for s in steps if isinstance(s, Shift)]


def build_table(plan: ReleasePlan, poll_every: float | None = None) -> list[Entry]:
    poll = poll_every if poll_every is not None else plan.checks.poll_every
    steps = compile_strategy(plan.strategy)
    waves = plan.wave_names
    entries: list[Entry] = []
    for wave, names in enumerate(waves):
        label = f"wave {wave + 1} of {len(waves)}: {', '.join(names)}" if len(waves) > 1 \
            else "preparing"
        entries.append(Entry("wave", "PREPARING", label, stage=f"wave {wave + 1}", wave=wave))
        if plan.hooks.before_traffic:
            entries.append(Entry("before_traffic", "PREPARING", "running before_traffic hooks",
                                 stage="before_traffic", wave=wave))
        route = 0
        for index, step in enumerate(steps):
            entries.append(_judged(plan, _strategy_entry(step, index, wave, route + 1, poll)))
            route += isinstance(step, Shift)
        if plan.hooks.after_traffic:
            entries.append(Entry("after_traffic", "PROMOTING", "running after_traffic hooks",
                                 stage="after_traffic", wave=wave, index=len(steps)))
        if plan.final_bake:
            entries.append(_judged(plan, Entry(
                "bake", "PROMOTING", f"final bake {plan.final_bake:g}s", stage="final_bake",
                wave=wave, index=len(steps), polls=polls_for(plan.final_bake, poll),
                seconds=plan.final_bake,
                label=f"final bake {format_duration(plan.final_bake)}")))
    last = len(waves) - 1
    if plan.keep_old_for:
        entries.append(Entry("bake", "PROMOTING",
                             f"keeping the old version for {plan.keep_old_for:g}s",
                             stage="keep_old", wave=last, index=len(steps),
                             polls=polls_for(plan.keep_old_for, poll), deadline=False))
    entries.append(Entry("retire", "PROMOTING", "retiring the old version", stage="retire",
                         wave=last, index=len(steps), deadline=False))
    entries.append(Entry("done", "SUCCEEDED", "succeeded", wave=last, index=len(steps),
                         deadline=False))
    return entries


def _strategy_entry(step: Step, index: int, wave: int, route: int, poll: float) -> Entry:
    if isinstance(step, Shift):
        return Entry("shift", "SHIFTING", f"shifting to {step.weight:g}%", wave=wave,
                     index=index, weight=step.weight, route=route)
    if isinstance(step, Bake):
        return Entry("bake", "BAKING", f"baking {step.seconds:g}s", wave=wave, index=index,
                     polls=polls_for(step.seconds, poll), seconds=step.seconds,
                     label=f"bake {format_duration(step.seconds)}")
    assert isinstance(step, Approve)
    return Entry("approve", "AWAITING_APPROVAL",
                 f"waiting for approval (timeout {step.timeout:g}s, then "
                 f"{step.on_timeout.value})", wave=wave, index=index,
                 timeout=step.timeout, on_timeout=step.on_timeout.value)


def _judged(plan: ReleasePlan, entry: Entry) -> Entry:
    """A strategy or final bake under analysis: its end applies on_inconclusive (SPEC
    §7); `approve` opens a gate with an approval step's default timeout, as locally."""
    if entry.kind != "bake" or plan.checks.metrics is None or entry.seconds <= 0:
        return entry
    if plan.checks.on_inconclusive is not OnInconclusive.APPROVE:
        return replace(entry, judged=True)
    default = ApproveSpec()
    after = "final_bake" if entry.stage == "final_bake" else "step"
    return replace(entry, judged=True, gate=f"analysis:{after}", timeout=default.timeout,
                   on_timeout=default.on_timeout.value)
