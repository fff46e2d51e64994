"""Operator requests through the store: state rules, identity, lookup."""

from __future__ import annotations

import pytest

from deployer.core.record import Outcome, Phase, RunRecord, lease_alive
from deployer.runs.operator import OperatorError, find_run, listing, submit
from tests.fakes import InMemoryStore


def stored(store: InMemoryStore, run_id: str, phase: Phase, started: str = "t1") -> RunRecord:
    record = RunRecord(run_id=run_id, plan_name="app", target_key="k", target={}, plan={},
                       started_at=started)
    record.phase = phase
    if phase in (Phase.SUCCEEDED, Phase.ROLLED_BACK):
        record.outcome = Outcome(phase.value.lower())
    store.create(record)
    return record


def test_approve_only_while_awaiting_approval() -> None:
    store = InMemoryStore()
    stored(store, "r1", Phase.BAKING)
    with pytest.raises(OperatorError, match="r1 is BAKING; 'approve' applies only in "
                                            "AWAITING_APPROVAL"):
        submit(store, "r1", "approve", "alice")
    assert store.load("r1").requests == []


def test_request_is_recorded_with_who_and_why() -> None:
    store = InMemoryStore()
    stored(store, "r1", Phase.AWAITING_APPROVAL)
    _, request = submit(store, "r1", "approve", "alice@laptop", "looks good")
    (saved,) = store.load("r1").requests
    assert saved == request
    assert (saved["action"], saved["by"], saved["reason"], saved["handled"]) == (
        "approve", "alice@laptop", "looks good", False)


def test_nothing_can_be_asked_of_an_ended_run() -> None:
    store = InMemoryStore()
    stored(store, "r1", Phase.SUCCEEDED)
    with pytest.raises(OperatorError, match="has already ended \\(succeeded\\)"):
        submit(store, "r1", "abort", "alice")


@pytest.mark.parametrize(("action", "phase", "allowed"), [
    ("promote", Phase.BAKING, True), ("promote", Phase.SHIFTING, False),
    ("promote_full", Phase.SHIFTING, True), ("promote_full", Phase.PREPARING, False),
    ("abort", Phase.PREPARING, True), ("abort", Phase.ROLLING_BACK, False),
])
def test_state_rules(action: str, phase: Phase, allowed: bool) -> None:
    store = InMemoryStore()
    stored(store, "r1", phase)
    if allowed:
        submit(store, "r1", action, "alice")
    else:
        with pytest.raises(OperatorError):
            submit(store, "r1", action, "alice")


def test_find_run_prefers_the_newest_active_one() -> None:
    store = InMemoryStore()
    stored(store, "old-active", Phase.BAKING, "t1")
    stored(store, "newer-ended", Phase.SUCCEEDED, "t2")
    assert find_run(store, None).run_id == "old-active"
    assert find_run(store, "newer-ended").run_id == "newer-ended"
    assert [r.run_id for r in listing(store.runs(), include_ended=False)] == ["old-active"]
    assert [r.run_id for r in listing(store.runs(), include_ended=True)] == [
        "newer-ended", "old-active"]


def test_lease_alive() -> None:
    record = RunRecord(run_id="r", plan_name="p", target_key="k", target={}, plan={},
                       started_at="t")
    assert not lease_alive(record, now=100)
    record.lease = {"owner": "h:1", "expires_at": 150}
    assert lease_alive(record, now=100)
    assert not lease_alive(record, now=151)
