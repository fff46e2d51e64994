"""The seams of the controller: one small Protocol each, and the values they exchange.

Only `deployer/runs/factory.py` knows the concrete classes; the controller takes
every collaborator as an argument, and tests pass the fakes in tests/fakes.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from deployer.core.record import RunRecord
from deployer.plan.windows import WindowState


@dataclass(frozen=True, slots=True)
class TrafficReading:
    """What AWS reports: the new version's share, or None when traffic is on neither
    the stable nor the new version (someone pointed it elsewhere)."""

    new_weight: float | None
    detail: str
    legs: dict[str, float | None] | None = None  # a whole application: each target's share


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """Where one version's numbers are in CloudWatch (SPEC §7): requests and errors are
    read as Sum, latency as Average, in 1-minute periods, with `dimensions` queried in
    exactly this order."""

    label: str                                   # "version 7", "target group green (…)"
    ident: dict[str, str]                        # for the record: {"version": "7"}, …
    namespace: str
    dimensions: tuple[tuple[str, str], ...]
    requests: str
    errors: str
    latency: str
    latency_to_ms: float = 1.0                   # ALB reports seconds


@dataclass(frozen=True, slots=True)
class VersionSeries:
    new: MetricSeries
    stable: MetricSeries


class TrafficTarget(Protocol):
    """One traffic resource: a Lambda alias, or an ALB listener/rule over two groups."""

    def describe(self) -> dict[str, Any]:
        """Identity and versions, for the run record's `target`."""
        ...

    def preflight(self, *, resuming: bool) -> None:
        """Read-only checks; raise PreflightError (nothing changed) when unsafe."""
        ...

    def already_done(self) -> bool:
        """True when all traffic is already on the version this run would ship."""
        ...

    def prepare(self) -> None:
        """Make the new version ready for traffic (publish, warm, deploy); no traffic yet."""
        ...

    def read(self) -> TrafficReading: ...

    def shift(self, weight: float) -> TrafficReading:
        """Write `weight`% to the new version (100 = full cut-over) and read it back;
        raise TargetError when AWS does not report what was asked."""
        ...

    def rollback(self) -> TrafficReading:
        """All traffic back on the stable version, in one write, read back."""
        ...

    def retire_old(self) -> None:
        """After success and keep_old_for: release what the old version holds."""
        ...

    def discard_new(self) -> None:
        """After a rollback: release what was prepared for the new version."""
        ...

    def restore_stable(self) -> None:
        """Before an emergency rollback to a version that a later release replaced: make
        it able to take all the traffic again (scaled back up from 0 or re-created, and
        healthy). Does nothing where it already can."""
        ...

    def hook_context(self) -> dict[str, str]: ...

    def metric_series(self) -> VersionSeries:
        """Each version's per-version metrics, once preflight and prepare have run."""
        ...


class Window(Protocol):
    """When traffic may move (SPEC §14): the plan's allow/deny entries and its change
    calendars. A rollback never asks."""

    def state(self, at: datetime) -> WindowState:
        """Open or closed at wall-clock `at` (now, for calendars); when closed, why and
        when it next opens. Something unreadable is closed (`unreadable`), never open."""
        ...


@dataclass(frozen=True, slots=True)
class CheckResult:
    healthy: bool
    states: dict[str, str] = field(default_factory=dict)
    reason: str | None = None
    muted: tuple[str, ...] = ()
    analysis: dict[str, Any] | None = None   # metric -> its last verdict (SPEC §7)
    inconclusive: str | None = None          # why analysis could not reach a verdict


class Check(Protocol):
    def start(self) -> CheckResult:
        """Evaluate once at preflight (already-firing policy); may raise PreflightError."""
        ...

    def evaluate(self, *, at_full: bool = False) -> CheckResult:
        """Idempotent; one AWS round trip per call at most (per 100 alarms, per 500
        metric queries). `at_full`: the new version has all the traffic, so analysis
        judges only absolute bounds."""
        ...


@dataclass(frozen=True, slots=True)
class HookResult:
    succeeded: bool
    summary: str
    output: str = ""


class Hook(Protocol):
    name: str

    def run(self, context: dict[str, str], cancel: threading.Event) -> HookResult: ...


class Clock(Protocol):
    time_scale: float

    def now(self) -> float: ...

    def wall(self) -> datetime: ...

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> None: ...


class Store(Protocol):
    def create(self, record: RunRecord) -> None: ...

    def load(self, run_id: str) -> RunRecord: ...

    def save(self, record: RunRecord) -> None:
        """Write `record` if the stored version is still `record.version`; bump it.
        Raise StoreConflict otherwise."""
        ...

    def acquire_lock(self, target_key: str, run_id: str, expires_at: float) -> str | None:
        """Take the target's lock; return the run id holding it instead, if any."""
        ...

    def release_lock(self, target_key: str, run_id: str) -> None: ...

    def runs(self) -> Iterator[RunRecord]: ...


class Notifier(Protocol):
    def publish(self, event: str, record: RunRecord) -> None: ...


class Observer(Protocol):
    """Shows progress: a rich live display on a TTY, JSON log lines otherwise."""

    def event(self, record: RunRecord, message: str) -> None: ...

    def tick(self, record: RunRecord, remaining: float | None) -> None: ...

    def close(self) -> None: ...
