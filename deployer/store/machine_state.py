"""The part of a run record that an AWS Step Functions state machine keeps (SPEC §11).

The machine cannot rewrite the record's JSON document, so it sets `sf_*` attributes
on the run's item with `dynamodb:updateItem` (each update also bumps `version`, so
an operator's compare-and-swap save never overwrites one unseen):

    sf_phase sf_stage sf_step sf_wave sf_weight   where the run is
    sf_events                                     events appended since the last save
    sf_outcome sf_exit sf_reason sf_hint sf_ended  how it ended
    sf_token                                      an approval gate's task token
    sf_taken                                      ids of operator requests acted on
    sf_execution                                  the execution's ARN
    sf_muted                                      alarms still muted (already_firing: ignore)
    sf_analysis sf_inconclusive sf_verdicts       the last poll's analysis (JSON), why it
                                                  was inconclusive, its verdicts in a line
    sf_window                                     while held by the deployment window:
                                                  {closed_because, opens} (JSON)

Operator requests go the other way: a save derives `sf_abort`, `sf_promote` and
`sf_override` (promote --override-window) from the record's pending requests, which
the machine reads at every poll.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from typing import Any

from deployer.core.clock import iso
from deployer.core.record import Event, Outcome, Phase, RunRecord

TERMINAL_WEIGHTS = {Outcome.ROLLED_BACK, Outcome.ABORTED}


def merge_machine_state(record: RunRecord, item: dict[str, Any]) -> None:
    """Fold the machine's attributes of `item` into `record` (loaded from its doc)."""
    if "sf_phase" in item:
        record.phase = Phase(_s(item["sf_phase"]))
        record.stage = _s(item.get("sf_stage")) or None
    if "sf_step" in item:
        record.step_index = int(_n(item["sf_step"]))
    if "sf_weight" in item:
        record.weight = _n(item["sf_weight"])
        record.requested_weight = record.weight
    if "sf_outcome" in item:
        record.outcome = Outcome(_s(item["sf_outcome"]))
        record.exit_code = int(_n(item["sf_exit"]))
        record.reason = _s(item.get("sf_reason")) or None
        record.hint = _s(item.get("sf_hint")) or None
        record.ended_at = _moment(_s(item.get("sf_ended"))) or None
    for raw in (item.get("sf_events") or {}).get("L", []):
        fields = raw["M"]
        weight = fields.get("weight", {})
        record.events.append(Event(_moment(_s(fields["at"])), _s(fields["phase"]),
                                   None if "NULL" in weight else _n(weight),
                                   _s(fields["message"]), _details(fields.get("details"))))
    if "sf_execution" in item:
        record.engine["execution_arn"] = _s(item["sf_execution"])
    if "sf_muted" in item:  # seen OK once: no longer muted
        record.muted_alarms = sorted(_s(i) for i in item["sf_muted"].get("L", []))
    if "sf_analysis" in item:
        with contextlib.suppress(ValueError):
            analysis = json.loads(_s(item["sf_analysis"]))
            if isinstance(analysis, dict):
                record.analysis = analysis
                record.inconclusive = _s(item.get("sf_inconclusive")) or None
    record.window = None
    if "sf_window" in item and record.phase == Phase.WAITING_WINDOW:
        with contextlib.suppress(ValueError):
            window = json.loads(_s(item["sf_window"]))
            record.window = window if isinstance(window, dict) else None
    if "sf_token" in item:
        record.engine["task_token"] = _s(item["sf_token"])
    taken = {_s(i) for i in (item.get("sf_taken") or {}).get("L", [])}
    for request in record.requests:
        if not request.get("handled") and (request["id"] in taken or record.terminal):
            if request["id"] in taken and request["action"] == "override_window" and \
                    not record.window_override:
                record.window_override = {k: request.get(k) for k in ("by", "reason", "at")}
            request["handled"] = True
            request["note"] = "taken by the state machine" if request["id"] in taken \
                else "the run ended"
    if record.target.get("kind") == "multi" and "sf_wave" in item:
        _target_weights(record, int(_n(item["sf_wave"])))


def requests_for_the_machine(record: RunRecord) -> dict[str, Any]:
    """The attributes the machine polls: the oldest pending abort, promote and window
    override."""
    attributes: dict[str, Any] = {}
    abort = record.pending("abort")
    if abort is not None:
        who = abort.get("by") or "an operator"
        attributes["sf_abort"] = {"S": who + (f": {abort['reason']}" if abort.get("reason")
                                              else "")}
    promote = record.pending("promote") or record.pending("promote_full")
    if promote is not None:
        attributes["sf_promote"] = {"M": {"id": {"S": promote["id"]},
                                          "action": {"S": promote["action"]},
                                          "by": {"S": promote.get("by") or "an operator"}}}
    override = record.pending("override_window")
    if override is not None:
        attributes["sf_override"] = {"M": {"id": {"S": override["id"]},
                                           "by": {"S": override.get("by") or "an operator"},
                                           "reason": {"S": override.get("reason") or ""}}}
    return attributes


def _target_weights(record: RunRecord, wave: int) -> None:
    """A whole application: earlier waves are at 100%, the current one at the machine's
    read-back weight, later ones untouched (all back at 0 once rolled back)."""
    targets = record.target.get("targets") or {}
    record.target["wave"] = wave
    for entry in targets.values():
        if record.outcome in TERMINAL_WEIGHTS:
            entry["weight"] = 0.0
        elif entry.get("wave", 1) - 1 < wave:
            entry["weight"] = 100.0
        elif entry.get("wave", 1) - 1 == wave:
            entry["weight"] = record.weight if record.weight is not None else 0.0
        else:
            entry["weight"] = 0.0


def _details(raw: dict[str, Any] | None) -> dict[str, Any]:
    """An event's details, as JSON text (the analysis' verdicts); unreadable = none."""
    try:
        details = json.loads(_s(raw)) if raw else {}
    except ValueError:
        return {}
    return details if isinstance(details, dict) else {}


def _moment(text: str) -> str:
    """$$.State.EnteredTime (`2026-11-28T12:56:13.126Z`) as the record writes times."""
    try:
        return iso(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return text


def _s(value: dict[str, Any] | None) -> str:
    return str((value or {}).get("S", ""))


def _n(value: dict[str, Any]) -> float:
    return float(value["N"])
