"""Merging what a Step Functions execution wrote (`sf_*` attributes) into the run record,
and the requests a save hands to the machine (deployer/store/machine_state.py)."""

from __future__ import annotations

from typing import Any

from deployer.core.record import Outcome, Phase, RunRecord
from deployer.store.machine_state import merge_machine_state, requests_for_the_machine


def record(**fields: Any) -> RunRecord:
    base: dict[str, Any] = {
        "run_id": "shop-20261128T100000Z-aaaa", "plan_name": "shop", "target_key": "k",
        "target": {"kind": "lambda"}, "plan": {}, "started_at": "2026-11-28T10:00:00Z",
        "engine": {"kind": "stepfunctions", "execution_arn": "arn:aws:states:x"}}
    return RunRecord(**{**base, **fields})


def event(at: str, message: str, weight: str | None = None) -> dict[str, Any]:
    return {"M": {"at": {"S": at}, "phase": {"S": "SHIFTING"}, "message": {"S": message},
                  "weight": {"N": weight} if weight else {"NULL": True}}}


def test_the_machine_state_wins_and_its_times_read_as_the_record_writes_them() -> None:
    run = record()
    merge_machine_state(run, {
        "sf_phase": {"S": "BAKING"}, "sf_stage": {"S": ""}, "sf_step": {"N": "1"},
        "sf_weight": {"N": "10"}, "sf_token": {"S": "token-1"},
        "sf_events": {"L": [event("2026-11-28T10:00:05.123Z", "shifted to 10% (read back)",
                                  "10"),
                            event("2026-11-28T10:00:06.5+00:00", "baking 5m")]}})
    assert (run.phase, run.stage, run.step_index, run.weight) == (Phase.BAKING, None, 1, 10)
    assert [(e.at, e.weight) for e in run.events] == [("2026-11-28T10:00:05Z", 10.0),
                                                      ("2026-11-28T10:00:06Z", None)]
    assert run.engine["task_token"] == "token-1"
    assert "task_token" not in run.document()["engine"]  # never shown or reported


def test_requests_the_machine_took_are_handled_and_an_ended_run_handles_the_rest() -> None:
    requests = [{"id": "a1", "action": "promote", "by": "ana", "handled": False},
                {"id": "b2", "action": "abort", "by": "bo", "handled": False}]
    run = record(requests=[dict(r) for r in requests])
    assert set(requests_for_the_machine(run)) == {"sf_abort", "sf_promote"}
    merge_machine_state(run, {"sf_phase": {"S": "BAKING"}, "sf_taken": {"L": [{"S": "a1"}]}})
    assert [r["handled"] for r in run.requests] == [True, False]
    assert requests_for_the_machine(run) == {"sf_abort": {"S": "bo"}}
    merge_machine_state(run, {"sf_phase": {"S": "ABORTED"}, "sf_outcome": {"S": "aborted"},
                              "sf_exit": {"N": "4"}, "sf_reason": {"S": "aborted by bo"},
                              "sf_ended": {"S": "2026-11-28T10:09:00.001Z"}})
    assert (run.outcome, run.exit_code, run.ended_at) == (Outcome.ABORTED, 4,
                                                          "2026-11-28T10:09:00Z")
    assert all(r["handled"] for r in run.requests)


def test_an_application_reads_per_target_weights_from_the_wave() -> None:
    targets = {"api": {"wave": 1}, "web": {"wave": 2}, "worker": {"wave": 3}}
    run = record(target={"kind": "multi", "targets": targets})
    merge_machine_state(run, {"sf_phase": {"S": "BAKING"}, "sf_wave": {"N": "1"},
                              "sf_weight": {"N": "25"}})
    assert {n: t["weight"] for n, t in targets.items()} == {"api": 100, "web": 25, "worker": 0}
    assert run.document()["weight"] == 0  # the lowest read-back weight
    merge_machine_state(run, {"sf_phase": {"S": "ROLLED_BACK"}, "sf_wave": {"N": "1"},
                              "sf_outcome": {"S": "rolled_back"}, "sf_exit": {"N": "3"},
                              "sf_weight": {"N": "0"}})
    assert {t["weight"] for t in targets.values()} == {0}


def test_the_machine_unmuting_an_alarm_shows_in_the_record() -> None:
    from deployer.core.record import RunRecord
    from deployer.store.machine_state import merge_machine_state

    record = RunRecord(run_id="r", plan_name="p", target_key="k", target={"kind": "lambda"},
                       plan={}, started_at="2026-12-05T10:00:00Z",
                       muted_alarms=["a", "b"])
    merge_machine_state(record, {"sf_muted": {"L": [{"S": "b"}]}})
    assert record.muted_alarms == ["b"]
    merge_machine_state(record, {"sf_muted": {"L": []}})
    assert record.muted_alarms == []
