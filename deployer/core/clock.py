"""Time for the controller: a real clock that can run N times faster (--time-scale),
and nothing else in the code base reads the time or sleeps.

`now()` is in *plan seconds*: under time scale N it advances N seconds per real
second, so a 5m bake in the plan lasts 5m/N of wall time and every duration in
the plan is divided by N without the controller knowing. Anchors stored in the
run record are `now()` values (scaled epoch seconds); a resumed run uses the
record's time scale, so they stay comparable across processes.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RealClock:
    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time scale must be positive")
        self.time_scale = time_scale

    def now(self) -> float:
        return time.time() * self.time_scale

    def wall(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> None:
        """Sleep `seconds` of plan time; return early once `wake` is set."""
        real = max(0.0, seconds) / self.time_scale
        if wake is None:
            time.sleep(real)
        else:
            wake.wait(real)
