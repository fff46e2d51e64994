"""Operator requests (approve / promote / abort) written into a run's record, from any
process or machine that reaches the same store; the controller acts on them within
one poll. Every request names who asked (AWS identity when available, else the OS
user) and why, and lands in the run's event trail."""

from __future__ import annotations

import getpass
import secrets
import socket
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from deployer.core.clock import iso
from deployer.core.ports import Store
from deployer.core.record import Phase, RunRecord
from deployer.errors import DeployerError, ExitCode
from deployer.store import RunNotFound, StoreConflict

STEPPING = {Phase.SHIFTING, Phase.BAKING, Phase.AWAITING_APPROVAL, Phase.PROMOTING}
ALLOWED: dict[str, set[Phase]] = {
    "approve": {Phase.AWAITING_APPROVAL},
    "promote": {Phase.BAKING, Phase.AWAITING_APPROVAL, Phase.PROMOTING},
    "promote_full": STEPPING,
    "abort": {Phase.PENDING, Phase.PREPARING, *STEPPING},
}


class OperatorError(DeployerError):
    """The request does not fit the run's state; nothing was written."""

    exit_code = ExitCode.INVALID


def local_identity() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def make_request(action: str, by: str, reason: str | None) -> dict[str, Any]:
    return {"id": secrets.token_hex(4), "action": action, "by": by, "reason": reason,
            "at": iso(datetime.now(UTC)), "handled": False}


def submit(store: Store, run_id: str, action: str, by: str, reason: str | None = None
           ) -> tuple[RunRecord, dict[str, Any]]:
    """Append a request with a compare-and-swap write; OperatorError if it does not fit."""
    for _ in range(10):
        record = store.load(run_id)
        if record.terminal:
            raise OperatorError(f"run {run_id} has already ended "
                                f"({record.outcome.value if record.outcome else record.phase})")
        if record.phase not in ALLOWED[action]:
            verb = action.replace("_", " --")
            raise OperatorError(f"run {run_id} is {record.phase.value}; '{verb}' applies "
                                f"only in {', '.join(sorted(p.value for p in ALLOWED[action]))}")
        request = make_request(action, by, reason)
        record.requests.append(request)
        try:
            store.save(record)
        except StoreConflict:
            continue
        return record, request
    raise DeployerError(f"run {run_id} keeps changing; try again")


def find_run(store: Store, run_id: str | None) -> RunRecord:
    """`run_id`, or the newest active run, or the newest run of all."""
    if run_id:
        return store.load(run_id)
    runs = sorted(store.runs(), key=lambda r: (r.started_at, r.run_id))
    active = [r for r in runs if not r.terminal]
    chosen = (active or runs)[-1:] if runs else []
    if not chosen:
        raise RunNotFound("there are no runs in this store")
    return chosen[0]


def listing(records: Iterable[RunRecord], include_ended: bool) -> list[RunRecord]:
    runs = [r for r in records if include_ended or not r.terminal]
    return sorted(runs, key=lambda r: (r.started_at, r.run_id), reverse=True)
