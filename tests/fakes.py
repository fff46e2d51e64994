"""Test doubles for every seam in deployer/core/ports.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from deployer.core.ports import CheckResult, HookResult, TrafficReading
from deployer.core.record import RunRecord
from deployer.display.progress import QuietObserver
from deployer.errors import Drift, NewVersionUnhealthy, PreflightError, TargetError
from deployer.store import RunNotFound, StoreConflict

EPOCH = 1_795_000_000.0


class FakeClock:
    """Sleeping advances `now` at once; `at` callbacks fire when their time comes."""

    def __init__(self, start: float = EPOCH, time_scale: float = 1.0) -> None:
        self.t = start
        self.time_scale = time_scale
        self.sleeps: list[float] = []
        self._alarms: list[tuple[float, Callable[[], None]]] = []

    def now(self) -> float:
        return self.t

    def wall(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)

    def at(self, offset: float, action: Callable[[], None]) -> None:
        """Run `action` once the clock passes start + offset."""
        self._alarms.append((self.t + offset, action))

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> None:
        self.sleeps.append(seconds)
        self.t += max(0.0, seconds)
        due = [a for a in self._alarms if a[0] <= self.t]
        self._alarms = [a for a in self._alarms if a[0] > self.t]
        for _, action in due:
            action()


class FakeTarget:
    """Records the weight history; can fail, drift or refuse on demand."""

    def __init__(self) -> None:
        self.weight = 0.0
        self.history: list[float] = []
        self.calls: list[str] = []
        self.fail_shift_at: float | None = None
        self.fail_rollback = False
        self.refuse: str | None = None
        self.done = False
        self.outsider: float | None = None
        self.unhealthy: str | None = None

    def describe(self) -> dict[str, Any]:
        return {"kind": "fake", "stable_version": "1", "new_version": "2"}

    def hook_context(self) -> dict[str, str]:
        return {"DEPLOYER_NEW_VERSION": "2"}

    def preflight(self, *, resuming: bool) -> None:
        self.calls.append("preflight")
        if self.refuse:
            raise PreflightError(self.refuse)

    def already_done(self) -> bool:
        return self.done

    def prepare(self) -> None:
        self.calls.append("prepare")
        if self.unhealthy:
            raise NewVersionUnhealthy(self.unhealthy)

    def read(self) -> TrafficReading:
        self.calls.append("read")
        if self.outsider is not None:
            return TrafficReading(self.outsider, f"{self.outsider:g}% set by someone else")
        return TrafficReading(self.weight, f"{self.weight:g}% on new")

    def shift(self, weight: float) -> TrafficReading:
        self.calls.append(f"shift {weight:g}")
        if self.fail_shift_at is not None and weight >= self.fail_shift_at:
            raise TargetError(f"UpdateAlias failed at {weight:g}")
        self.weight = weight
        self.history.append(weight)
        return self.read()

    def rollback(self) -> TrafficReading:
        self.calls.append("rollback")
        if self.fail_rollback:
            raise TargetError("UpdateAlias failed: throttled for too long")
        if self.outsider is not None:
            raise Drift("drift during rollback")
        self.weight = 0.0
        self.history.append(0.0)
        return self.read()

    def retire_old(self) -> None:
        self.calls.append("retire_old")

    def discard_new(self) -> None:
        self.calls.append("discard_new")

    def restore_stable(self) -> None:
        self.calls.append("restore_stable")


class ScriptedCheck:
    """Healthy unless told otherwise; `fire(name)` puts an alarm in ALARM. With
    `judging`, it also reports an analysis: `doubt` (a reason) makes it inconclusive."""

    def __init__(self, names: tuple[str, ...] = ("errors",), judging: bool = False) -> None:
        self.states = dict.fromkeys(names, "OK")
        self.evaluations = 0
        self.judging = judging
        self.doubt: str | None = None
        self.at_full: list[bool] = []

    def fire(self, name: str = "errors") -> None:
        self.states[name] = "ALARM"

    def start(self) -> CheckResult:
        return CheckResult(True, dict(self.states))

    def evaluate(self, *, at_full: bool = False) -> CheckResult:
        self.evaluations += 1
        self.at_full.append(at_full)
        for name, state in self.states.items():
            if state == "ALARM":
                return CheckResult(False, dict(self.states), f"alarm {name} is in ALARM")
        if not self.judging:
            return CheckResult(True, dict(self.states))
        verdict = "inconclusive" if self.doubt else "pass"
        return CheckResult(True, dict(self.states), analysis={"error_rate": {"verdict": verdict}},
                           inconclusive=self.doubt)


@dataclass
class ScriptedHook:
    name: str = "scripted"
    succeed: bool = True
    contexts: list[dict[str, str]] = field(default_factory=list)

    def run(self, context: dict[str, str], cancel: threading.Event) -> HookResult:
        self.contexts.append(context)
        return HookResult(self.succeed, "ok" if self.succeed else "smoke test failed", "out")


class InMemoryStore:
    """Records kept as JSON text, as a real store would: no shared objects with callers."""

    def __init__(self) -> None:
        self.records: dict[str, str] = {}
        self.locks: dict[str, str] = {}
        self.saves = 0

    def create(self, record: RunRecord) -> None:
        record.version = 1
        self.records[record.run_id] = json.dumps(record.to_json())

    def load(self, run_id: str) -> RunRecord:
        if run_id not in self.records:
            raise RunNotFound(run_id)
        return RunRecord.from_json(json.loads(self.records[run_id]))

    def save(self, record: RunRecord) -> None:
        if json.loads(self.records[record.run_id])["version"] != record.version:
            raise StoreConflict("conflict")
        record.version += 1
        self.saves += 1
        self.records[record.run_id] = json.dumps(record.to_json())

    def add_request(self, run_id: str, action: str, **extra: Any) -> None:
        """What an operator command does: append a request with a CAS write."""
        record = self.load(run_id)
        record.requests.append({"id": f"r{len(record.requests) + 1}", "action": action,
                                **extra})
        self.save(record)

    def acquire_lock(self, target_key: str, run_id: str, expires_at: float) -> str | None:
        holder = self.locks.get(target_key)
        if holder and holder != run_id and not self.load(holder).terminal:
            return holder
        self.locks[target_key] = run_id
        return None

    def release_lock(self, target_key: str, run_id: str) -> None:
        if self.locks.get(target_key) == run_id:
            del self.locks[target_key]

    def runs(self) -> Iterator[RunRecord]:
        for run_id in sorted(self.records):
            yield self.load(run_id)


class RecordingNotifier:
    def __init__(self) -> None:
        self.events: list[str] = []

    def publish(self, event: str, record: RunRecord) -> None:
        self.events.append(event)


# The product's own no-op observer serves the tests too.
NullObserver = QuietObserver
