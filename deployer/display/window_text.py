"""A run's deployment window (SPEC §14) as short lines, for `status` and the live
display: why it is held and when the window opens, and a break-glass override."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from deployer.plan.durations import format_duration


def window_lines(window: dict[str, Any] | None, override: dict[str, Any] | None,
                 now: datetime | None = None) -> list[str]:
    lines = []
    if window:
        opens = window.get("opens")
        when = f"opens {opens}{_in(opens, now)}" if opens else \
            "no opening known (read again every poll)"
        lines.append(f"closed: {window.get('closed_because')}; {when}")
    if override:
        lines.append(f"overridden by {override.get('by')} at {override.get('at')}: "
                     f"{override.get('reason')}")
    return lines


def _in(opens: str, now: datetime | None) -> str:
    try:
        moment = datetime.fromisoformat(opens.replace("Z", "+00:00"))
    except ValueError:
        return ""
    left = (moment - (now or datetime.now(UTC))).total_seconds()
    # to the minute: "in 2d3h", not "in 2d2h59m58s"
    return f" (in {format_duration(max(60, round(left / 60) * 60))})" if left > 0 else ""
