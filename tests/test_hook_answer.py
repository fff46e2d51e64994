"""The hookStatus contract (SPEC §2) as a table: what passes, what re-invokes, and
that every answer deployer cannot read fails closed with the answer quoted."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployer.hooks.answer import DEFAULT_CALLBACK_DELAY, HookStatus, judge_hook_answer

S, F, P = HookStatus.SUCCEEDED, HookStatus.FAILED, HookStatus.IN_PROGRESS


@pytest.mark.parametrize(("body", "status"), [
    ('{"hookStatus": "SUCCEEDED"}', S),
    ('{"hookStatus": "Succeeded"}', S),            # CodeDeploy's spelling
    ('{"hookStatus": "succeeded "}', S),
    ('{"hookStatus": "FAILED"}', F),
    ('{"hookStatus": "Failed"}', F),               # CodeDeploy's spelling: was a pass once
    ('{"hookStatus": "IN_PROGRESS"}', P),
    ('{"hookStatus": "In_Progress", "callBackDelay": 5}', P),
    ("", S), ("   \n", S), ("null", S), ("{}", S),  # an empty answer succeeds
    ('{"hookStatus": "DONE"}', F),                 # an unknown status
    ('{"hookStatus": "SUCCESS"}', F),
    ('{"hookStatus": null}', F),
    ('{"hookStatus": true}', F),
    ('{"hookStatus": ["SUCCEEDED"]}', F),
    ('{"status": "SUCCEEDED"}', F),                # an object without hookStatus
    ('{"callBackDelay": 10}', F),
    ('"Validation test failed"', F),               # a bare string
    ('"SUCCEEDED"', F),
    ('["SUCCEEDED"]', F),                          # a list
    ("[]", F),
    ("42", F), ("true", F), ("false", F),
    ("Validation test failed", F),                 # not JSON at all
    ("{not json", F),
])
def test_hook_answer_table(body: str, status: HookStatus) -> None:
    assert judge_hook_answer(body).status == status


@pytest.mark.parametrize(("body", "quoted"), [
    ('{"hookStatus": "DONE"}', "unknown hookStatus 'DONE'"),
    ('"Validation test failed"', 'bare string, not an object with hookStatus: '
                                 '"Validation test failed"'),
    ('["SUCCEEDED"]', 'list, not an object with hookStatus: ["SUCCEEDED"]'),
    ('{"ok": true}', 'answer has no hookStatus: {"ok": true}'),
    ("oops", "answer is not JSON: oops"),
])
def test_a_failing_answer_is_quoted_in_the_reason(body: str, quoted: str) -> None:
    assert quoted in judge_hook_answer(body).summary


def test_long_answers_are_quoted_cut_short() -> None:
    summary = judge_hook_answer('"' + "x" * 5000 + '"').summary
    assert len(summary) < 300 and summary.endswith("…")


@pytest.mark.parametrize(("body", "delay"), [
    ('{"hookStatus": "IN_PROGRESS", "callBackDelay": 5}', 5.0),
    ('{"hookStatus": "IN_PROGRESS", "callBackDelay": 0.5}', 0.5),
    ('{"hookStatus": "IN_PROGRESS"}', DEFAULT_CALLBACK_DELAY),
    ('{"hookStatus": "IN_PROGRESS", "callBackDelay": -1}', DEFAULT_CALLBACK_DELAY),
    ('{"hookStatus": "IN_PROGRESS", "callBackDelay": "5"}', DEFAULT_CALLBACK_DELAY),
    ('{"hookStatus": "IN_PROGRESS", "callBackDelay": true}', DEFAULT_CALLBACK_DELAY),
    ('{"hookStatus": "IN_PROGRESS", "callBackDelay": NaN}', DEFAULT_CALLBACK_DELAY),
])
def test_callback_delay(body: str, delay: float) -> None:
    assert judge_hook_answer(body).callback_delay == delay


@given(st.text())
def test_no_text_but_the_contract_passes(body: str) -> None:
    """Arbitrary answers never crash the judge, and pass only in the contract's shapes."""
    answer = judge_hook_answer(body)
    if answer.status == S:
        import json

        stripped = body.strip()
        value = json.loads(stripped) if stripped else None
        assert value in (None, {}) or str(value.get("hookStatus")).strip().upper() == "SUCCEEDED"
