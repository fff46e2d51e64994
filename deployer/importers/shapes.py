"""What an importer may assume about a value it read: nothing. Templates, appspecs and
serverless.yml files come from anywhere (a fuzzer, another tool's file, a half-edited
copy), so every mapping or list is taken through these, and a value of the wrong kind
reads as absent instead of meeting code that assumed a mapping."""

from __future__ import annotations

from typing import Any


def as_dict(value: Any) -> dict[str, Any]:
    """`value` when it is a mapping, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """`value` when it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def is_scalar(value: Any) -> bool:
    """A plain string or number (YAML also gives bools, dates and None: not names)."""
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def is_false(value: Any) -> bool:
    """`false` as YAML, JSON or CloudFormation write it (a bool, or the string)."""
    return value is False or (is_scalar(value) and str(value).lower() == "false")


def dig(value: Any, *path: str) -> Any:
    """`value[path[0]][path[1]]...`, or None where a step is missing or not a mapping."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
