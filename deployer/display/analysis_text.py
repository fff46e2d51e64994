"""A run's analysis (SPEC §7) as short lines, for `status` and the live display:
each metric's verdict with both versions' numbers."""

from __future__ import annotations

from typing import Any


def analysis_lines(analysis: dict[str, Any], inconclusive: str | None = None) -> list[str]:
    lines = []
    for metric, entry in analysis.items():
        new, stable = entry.get("new") or {}, entry.get("stable") or {}
        line = (f"{metric} {str(entry.get('verdict', '?')).upper()}: "
                f"new {_numbers(metric, new)} vs stable {_numbers(metric, stable)}")
        if entry.get("bound"):
            line += f" (broke {entry['bound']})"
        lines.append(line)
    if inconclusive:
        lines.append(f"no verdict yet: {inconclusive}")
    return lines


def _numbers(metric: str, side: dict[str, Any]) -> str:
    value = side.get("value")
    who = side.get("colour") or side.get("version") or "?"
    if value is None:
        return f"{who}: no data ({side.get('requests', 0)} requests)"
    if metric == "error_rate":
        return f"{who}: {value:.2f}% ({side.get('errors', 0)}/{side.get('requests', 0)})"
    return f"{who}: {value:.0f}ms ({side.get('requests', 0)} requests)"
