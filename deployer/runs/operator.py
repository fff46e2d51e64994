"""Operator requests (approve / promote / abort / override_window) written into a
run's record, from any process or machine that reaches the same store; the controller
acts on them within one poll. Every request names who asked (AWS identity when
available, else the OS user) and why, and lands in the run's event trail."""

from __future__ import annotations

import getpass
import secrets
import socket
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from deployer.core.clock import iso
from deployer.core.ports import Store
from deployer.core.record import Phase, RunRecord
from deployer.core.settings import Settings
from deployer.errors import DeployerError, ExitCode
from deployer.store import RunNotFound, StoreConflict

if TYPE_CHECKING:
    from deployer.aws import AwsContext

STEPPING = {Phase.SHIFTING, Phase.BAKING, Phase.AWAITING_APPROVAL, Phase.PROMOTING}
ALLOWED: dict[str, set[Phase]] = {
    "approve": {Phase.AWAITING_APPROVAL},
    "promote": {Phase.BAKING, Phase.AWAITING_APPROVAL, Phase.PROMOTING},
    "promote_full": STEPPING,
    # a run held by its deployment window (SPEC §14) can always be aborted
    "abort": {Phase.PENDING, Phase.PREPARING, Phase.WAITING_WINDOW, *STEPPING},
    # break glass for a run under way (`promote --override-window --reason TEXT`)
    "override_window": {Phase.PENDING, Phase.PREPARING, Phase.WAITING_WINDOW, *STEPPING},
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


# ---------------------------------------------------------------- runs on Step Functions

GATE_ERROR = "deployer.Aborted"
TOKEN_WAIT_SECONDS = 10.0


def answer_machine_gate(store: Store, record: RunRecord, request: dict[str, Any],
                        client: Any, sleep: Any = None) -> str | None:
    """A Step Functions run waiting at an approval: release its task token (approve /
    promote = SendTaskSuccess, abort = SendTaskFailure). None when the run is not at a
    gate (the machine reads the request from the record at its next poll)."""
    import json
    import time

    from botocore.exceptions import ClientError

    if record.phase != Phase.AWAITING_APPROVAL:
        return None
    pause = sleep or time.sleep
    token = record.engine.get("task_token")
    waited = 0.0
    while not token and waited < TOKEN_WAIT_SECONDS:  # the gate writes it just after entering
        pause(0.5)
        waited += 0.5
        fresh = store.load(record.run_id)
        if fresh.phase != Phase.AWAITING_APPROVAL:
            return None
        token = fresh.engine.get("task_token")
    if not token:
        raise DeployerError(f"run {record.run_id} is waiting for approval but its state "
                            "machine has not stored a task token; try again in a moment")
    who = request.get("by") or "an operator"
    why = f": {request['reason']}" if request.get("reason") else ""
    try:
        if request["action"] == "abort":
            client.send_task_failure(taskToken=token, error=GATE_ERROR,
                                     cause=f"aborted by {who}{why}")
            return "SendTaskFailure"
        client.send_task_success(taskToken=token, output=json.dumps({
            "action": request["action"], "id": request["id"], "by": who + why}))
        return "SendTaskSuccess"
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken"):
            raise OperatorError(f"run {record.run_id}'s approval is no longer waiting "
                                f"({code}); see deployer status {record.run_id}") from None
        raise DeployerError(f"cannot answer run {record.run_id}'s approval: {exc}") from exc


def machine_aws(record: RunRecord, settings: Settings | None) -> AwsContext:
    """Where a run's Step Functions execution lives: --region, else its ARN's region."""
    from deployer.aws import AwsContext

    arn = str(record.engine.get("execution_arn", ""))
    region = arn.split(":")[3] if arn.count(":") >= 3 else None
    return AwsContext(region=(settings.region if settings else None) or region,
                      profile=settings.profile if settings else None,
                      endpoint_url=settings.endpoint_url if settings else None)


def request_action(store: Store, run_id: str, action: str, by: str, reason: str | None,
                   settings: Settings | None) -> tuple[RunRecord, dict[str, Any], str | None]:
    """`submit`, and for a run on Step Functions waiting at a gate, answer the gate:
    (the record, the request, the Step Functions call made or None)."""
    record, request = submit(store, run_id, action, by, reason)
    if not record.on_stepfunctions:
        return record, request, None
    client = machine_aws(record, settings).client("stepfunctions")
    return record, request, answer_machine_gate(store, record, request, client)
