"""The inline approval prompt writes the same request `deployer approve` does."""

from __future__ import annotations

import io

from deployer.core.record import Phase, RunRecord
from deployer.runs.prompt import InlineApproval
from tests.fakes import InMemoryStore


def waiting(store: InMemoryStore) -> RunRecord:
    record = RunRecord(run_id="r1", plan_name="p", target_key="k", target={}, plan={},
                       started_at="t")
    record.phase = Phase.AWAITING_APPROVAL
    store.create(record)
    return record


def answers(text: str) -> list[dict[str, object]]:
    store = InMemoryStore()
    record = waiting(store)
    prompt = InlineApproval(store, "alice@laptop", io.StringIO(text))
    prompt.event(record, "waiting for approval")
    assert prompt.thread is not None
    prompt.thread.join(timeout=5)
    return store.load("r1").requests


def test_approve_at_the_prompt() -> None:
    (request,) = answers("maybe\napprove\n")
    assert (request["action"], request["by"]) == ("approve", "alice@laptop (inline prompt)")


def test_abort_at_the_prompt() -> None:
    (request,) = answers("abort\n")
    assert request["action"] == "abort"


def test_answers_outside_an_approval_are_ignored() -> None:
    store = InMemoryStore()
    record = waiting(store)
    prompt = InlineApproval(store, "alice", io.StringIO(""))
    prompt.event(record, "waiting")
    record.phase = Phase.BAKING
    prompt.tick(record, None)
    prompt.stream = io.StringIO("approve\n")
    prompt._answers()
    assert store.load("r1").requests == []
