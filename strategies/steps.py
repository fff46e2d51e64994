"""The three step kinds every strategy compiles to."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

FULL = 100.0


class StepKind(Enum):
    SHIFT = "shift"
    BAKE = "bake"
    APPROVE = "approve"


class OnTimeout(Enum):
    ROLLBACK = "rollback"
    PROMOTE = "promote"


@dataclass(frozen=True, slots=True)
class Shift:
    """Put `weight` percent of traffic on the new version (read back before going on)."""

    weight: float
    kind: ClassVar[StepKind] = StepKind.SHIFT


@dataclass(frozen=True, slots=True)
class Bake:
    """Hold the current weight for `seconds` while checks keep running."""

    seconds: float
    kind: ClassVar[StepKind] = StepKind.BAKE


@dataclass(frozen=True, slots=True)
class Approve:
    """Wait for an operator; after `timeout` seconds do `on_timeout`."""

    timeout: float
    on_timeout: OnTimeout = OnTimeout.ROLLBACK
    kind: ClassVar[StepKind] = StepKind.APPROVE


Step = Shift | Bake | Approve


def weight(value: float) -> float:
    """Weights carry at most one decimal place, so arithmetic never drifts."""
    return round(value, 1)
