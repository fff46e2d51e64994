"""The run record (SPEC §5): phases, outcomes, the transition table, and the document
that the store persists, `status --json` prints and `--report` writes.

The record is the single source of truth of a run: a crash loses nothing that
was saved, and `resume` continues from it plus what AWS reports.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from deployer.core.clock import iso
from deployer.errors import ExitCode


class Phase(StrEnum):
    PENDING = "PENDING"
    PREPARING = "PREPARING"
    SHIFTING = "SHIFTING"
    BAKING = "BAKING"
    AWAITING_APPROVAL = "AWAITING_APPROVAL"
    WAITING_WINDOW = "WAITING_WINDOW"  # a shift held until the deployment window opens
    PROMOTING = "PROMOTING"
    SUCCEEDED = "SUCCEEDED"
    ROLLING_BACK = "ROLLING_BACK"
    ROLLED_BACK = "ROLLED_BACK"
    ABORTED = "ABORTED"
    FAILED = "FAILED"


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    ROLLED_BACK = "rolled_back"
    ABORTED = "aborted"
    FAILED = "failed"
    REFUSED = "refused"


TERMINAL = frozenset({Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.ABORTED, Phase.FAILED})
_ACTIVE = frozenset(Phase) - TERMINAL
_WORKING = frozenset({Phase.SHIFTING, Phase.BAKING, Phase.AWAITING_APPROVAL, Phase.PROMOTING,
                      Phase.WAITING_WINDOW})

# Allowed transitions. From any non-terminal phase a run may roll back or fail.
TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.PENDING: frozenset({Phase.PREPARING, Phase.SUCCEEDED, Phase.ABORTED, Phase.FAILED,
                              Phase.ROLLING_BACK}),
    Phase.PREPARING: frozenset({*_WORKING, Phase.SUCCEEDED, Phase.ROLLING_BACK, Phase.FAILED}),
    Phase.SHIFTING: frozenset({*_WORKING, Phase.ROLLING_BACK, Phase.FAILED}),
    Phase.BAKING: frozenset({*_WORKING, Phase.ROLLING_BACK, Phase.FAILED}),
    Phase.AWAITING_APPROVAL: frozenset({*_WORKING, Phase.ROLLING_BACK, Phase.FAILED}),
    # SPEC §14: a shift waits for the window; checks are still watched meanwhile.
    Phase.WAITING_WINDOW: frozenset({*_WORKING, Phase.ROLLING_BACK, Phase.FAILED}),
    # PROMOTING -> AWAITING_APPROVAL: analysis inconclusive at the end of the final bake
    # with on_inconclusive: approve.
    # PROMOTING -> PREPARING: a whole application's next wave (SPEC §8).
    Phase.PROMOTING: frozenset({Phase.PROMOTING, Phase.AWAITING_APPROVAL, Phase.PREPARING,
                                Phase.SUCCEEDED, Phase.ROLLING_BACK, Phase.FAILED}),
    Phase.ROLLING_BACK: frozenset({Phase.ROLLED_BACK, Phase.ABORTED, Phase.FAILED}),
    Phase.SUCCEEDED: frozenset(),
    Phase.ROLLED_BACK: frozenset(),
    Phase.ABORTED: frozenset(),
    Phase.FAILED: frozenset(),
}

EXIT_CODES: dict[Outcome, ExitCode] = {
    Outcome.SUCCEEDED: ExitCode.SUCCEEDED,
    Outcome.ROLLED_BACK: ExitCode.ROLLED_BACK,
    Outcome.ABORTED: ExitCode.ABORTED,
    Outcome.REFUSED: ExitCode.REFUSED,
    Outcome.FAILED: ExitCode.UNEXPECTED,
}


def new_run_id(plan_name: str, started: datetime) -> str:
    return f"{plan_name}-{started.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(2)}"


@dataclass(slots=True)
class Event:
    at: str
    phase: str
    weight: float | None
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        out: dict[str, Any] = {"at": self.at, "phase": self.phase, "weight": self.weight,
                               "message": self.message}
        if self.details:
            out["details"] = self.details
        return out


@dataclass(slots=True)
class RunRecord:
    """Everything a controller (this one or a resuming one) needs to know about a run."""

    run_id: str
    plan_name: str
    target_key: str
    target: dict[str, Any]
    plan: dict[str, Any]
    started_at: str
    time_scale: float = 1.0
    phase: Phase = Phase.PENDING
    outcome: Outcome | None = None
    reason: str | None = None
    hint: str | None = None              # what to do about `reason`
    exit_code: int | None = None
    weight: float | None = None          # new version's share as last READ BACK
    requested_weight: float | None = None
    step_index: int = 0
    stage: str | None = None             # sub-stage within PREPARING / PROMOTING
    wait_started: float | None = None    # clock.now() when the current wait began
    deadline_at: float | None = None
    ended_at: str | None = None
    alarms: dict[str, str] = field(default_factory=dict)
    muted_alarms: list[str] = field(default_factory=list)  # already firing, ignored until OK
    analysis: dict[str, Any] = field(default_factory=dict)  # metric -> last verdict (SPEC §7)
    inconclusive: str | None = None      # why the last analysis reached no verdict
    hooks: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lease: dict[str, Any] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    target_keys: list[str] = field(default_factory=list)  # every lock (a whole application)
    # Who executes the run when it is not this process: {"kind": "stepfunctions",
    # "state_machine_arn", "execution_arn", "task_token"} (SPEC §11).
    engine: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # the plan's (plan/warnings.py)
    # SPEC §14: while held by the deployment window, {"closed_because", "opens"}; a
    # break-glass release, {"by", "reason", "at"} (never held by a window).
    window: dict[str, Any] | None = None
    window_override: dict[str, Any] | None = None
    version: int = 0                     # optimistic-concurrency counter, owned by the store

    @property
    def locks(self) -> list[str]:
        return self.target_keys or [self.target_key]

    @property
    def on_stepfunctions(self) -> bool:
        """Executed by an AWS Step Functions state machine, not by a deployer process."""
        return self.engine.get("kind") == "stepfunctions"

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL

    def add_event(self, wall: datetime, message: str, **details: Any) -> Event:
        event = Event(iso(wall), self.phase.value, self.weight, message, details)
        self.events.append(event)
        return event

    # Operator requests: appended by `approve` / `promote` / `abort` (compare-and-swap),
    # merged in by the controller, marked handled once acted on.

    def merge_requests(self, stored: RunRecord) -> list[dict[str, Any]]:
        """Take the requests `stored` has and this record does not; return them."""
        known = {r["id"] for r in self.requests}
        fresh = [dict(r) for r in stored.requests if r["id"] not in known]
        self.requests.extend(fresh)
        return fresh

    def pending(self, action: str) -> dict[str, Any] | None:
        return next((r for r in self.requests
                     if r["action"] == action and not r.get("handled")), None)

    def mark_handled(self, action: str, note: str) -> dict[str, Any] | None:
        request = self.pending(action)
        if request is not None:
            request["handled"] = True
            request["note"] = note
        return request

    def move_to(self, phase: Phase) -> None:
        if phase != self.phase and phase not in TRANSITIONS[self.phase]:
            raise ValueError(f"illegal transition {self.phase} -> {phase}")
        self.phase = phase

    def document(self, *, with_events: bool = True) -> dict[str, Any]:
        """The SPEC §5 report (plus the controller's own fields)."""
        target, weight = self.target, self.weight
        targets = self.target.get("targets") if self.target.get("kind") == "multi" else None
        if targets is not None:  # SPEC §8: `targets`, and the lowest read-back weight
            target = {k: v for k, v in self.target.items() if k != "targets"}
            read = [t.get("weight") for t in targets.values()]
            weight = None if any(w is None for w in read) else min(read, default=None)
        out = {
            "run_id": self.run_id,
            "plan_name": self.plan_name,
            "outcome": self.outcome.value if self.outcome else None,
            "phase": self.phase.value,
            "reason": self.reason,
            "hint": self.hint,
            "target": target,
            **({"targets": targets} if targets is not None else {}),
            "locks": self.locks,  # what the run holds: each traffic resource's identity
            "weight": weight,
            "requested_weight": self.requested_weight,
            "time_scale": self.time_scale,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "exit_code": self.exit_code,
            "step_index": self.step_index,
            "stage": self.stage,
            "alarms": self.alarms,
            "analysis": self.analysis,
            **({"inconclusive": self.inconclusive} if self.inconclusive else {}),
            "hooks": self.hooks,
            "requests": self.requests,
            "lease": self.lease,
            **({"engine": {k: v for k, v in self.engine.items() if k != "task_token"}}
               if self.engine else {}),
            **({"warnings": self.warnings} if self.warnings else {}),
            **({"window": self.window} if self.window else {}),
            **({"window_override": self.window_override} if self.window_override else {}),
            **({"dead": True} if controller_dead(self) else {}),
        }
        if with_events:
            out["events"] = [e.document() for e in self.events]
        return out

    def to_json(self) -> dict[str, Any]:
        """The stored form: the document plus what resuming needs."""
        data = asdict(self)
        data["phase"] = self.phase.value
        data["outcome"] = self.outcome.value if self.outcome else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        fields = dict(data)
        fields["phase"] = Phase(fields["phase"])
        fields["outcome"] = Outcome(fields["outcome"]) if fields.get("outcome") else None
        fields["events"] = [Event(**e) for e in fields.get("events", [])]
        return cls(**fields)


def lease_alive(record: RunRecord, now: float | None = None) -> bool:
    """Whether the controller that last claimed the run still holds it (`now` in epoch
    seconds, default the wall clock)."""
    expires = (record.lease or {}).get("expires_at")
    moment = datetime.now(UTC).timestamp() if now is None else now
    return isinstance(expires, int | float) and expires > moment


def controller_dead(record: RunRecord, now: float | None = None) -> bool:
    """An active local run whose controller's lease expired: nobody drives it, and it
    holds its locks until `abort` takes it over or `rollback PLAN` ends it."""
    return (not record.terminal and not record.on_stepfunctions and bool(record.lease)
            and not lease_alive(record, now))

