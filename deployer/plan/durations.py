"""Durations as written in plans (`500ms`, `30s`, `5m`, `2h`, `1d`, `1h30m`) and back."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")
PATTERN = r"^\s*(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+\s*$"


def parse_duration(text: str) -> float:
    """Seconds in `text`; raises ValueError with a message fit for a user."""
    compact = text.strip()
    if not _WHOLE.fullmatch(compact):
        raise ValueError(
            f"{text!r} is not a duration; write e.g. 500ms, 30s, 5m, 2h, 1d or 1h30m"
        )
    return sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(compact))


def format_duration(seconds: float) -> str:
    """The shortest exact spelling: 90 -> '1m30s', 0.5 -> '500ms', 0 -> '0s'."""
    if seconds <= 0:
        return "0s"
    millis = round(seconds * 1000)
    parts: list[str] = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    if millis:
        parts.append(f"{millis}ms")
    return "".join(parts)
