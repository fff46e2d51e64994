"""What a lambda hook's answer means (SPEC §2): the one judge of the hookStatus contract.

The ECS lifecycle-hook contract: `{"hookStatus": "SUCCEEDED" | "FAILED" |
"IN_PROGRESS", "callBackDelay": seconds}`, the status compared case-insensitively
so CodeDeploy's "Succeeded"/"Failed" count too. An empty answer (nothing, null,
{}) succeeds. Every other answer fails closed, with the answer quoted: a hook
that says something deployer cannot read has not said "pass".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

DEFAULT_CALLBACK_DELAY = 30.0
QUOTE_LIMIT = 200


class HookStatus(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    IN_PROGRESS = "IN_PROGRESS"


@dataclass(frozen=True, slots=True)
class HookAnswer:
    status: HookStatus
    summary: str
    callback_delay: float = DEFAULT_CALLBACK_DELAY


def judge_hook_answer(body: str | bytes) -> HookAnswer:
    """The verdict on a lambda hook's response payload."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if not text.strip():
        return HookAnswer(HookStatus.SUCCEEDED, "empty answer (success)")
    try:
        answer = json.loads(text)
    except ValueError:
        return _fails(f"answer is not JSON: {_quote(text)}")
    if answer is None or answer == {}:
        return HookAnswer(HookStatus.SUCCEEDED, "empty answer (success)")
    if not isinstance(answer, dict):
        return _fails(f"answer is a {_json_kind(answer)}, not an object with hookStatus: "
                      f"{_quote(text)}")
    if "hookStatus" not in answer:
        return _fails(f"answer has no hookStatus: {_quote(text)}")
    status = answer["hookStatus"]
    if not isinstance(status, str):
        return _fails(f"hookStatus is not a string: {_quote(text)}")
    try:
        known = HookStatus(status.strip().upper())
    except ValueError:
        return _fails(f"unknown hookStatus {status!r} (expected SUCCEEDED, FAILED or "
                      f"IN_PROGRESS): {_quote(text)}")
    return HookAnswer(known, f"hookStatus {status}", _callback_delay(answer))


def _fails(summary: str) -> HookAnswer:
    return HookAnswer(HookStatus.FAILED, summary)


def _callback_delay(answer: dict[str, Any]) -> float:
    delay = answer.get("callBackDelay", DEFAULT_CALLBACK_DELAY)
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not delay >= 0:
        return DEFAULT_CALLBACK_DELAY
    return float(delay)


def _json_kind(value: Any) -> str:
    if isinstance(value, str):
        return "bare string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, bool):
        return "boolean"
    return "number"


def _quote(text: str) -> str:
    text = text.strip()
    return text if len(text) <= QUOTE_LIMIT else text[:QUOTE_LIMIT] + "…"
