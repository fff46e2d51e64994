"""Stop requests from signals (SIGINT/SIGTERM): recorded, never raised mid-write.

The handler only sets a flag and wakes the controller's sleep, so a signal that
arrives during an AWS write lets that write finish; the controller then rolls
back within the poll interval plus one write (SPEC §6.5).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class StopSignal:
    def __init__(self) -> None:
        self.wake = threading.Event()
        self.reason: str | None = None

    @property
    def requested(self) -> bool:
        return self.reason is not None

    def request(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self.wake.set()

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopSignal]:
        """Route SIGINT and SIGTERM here for the duration of a run."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return

        def handler(signum: int, frame: FrameType | None) -> None:
            self.request(f"aborted by {signal.Signals(signum).name}")

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)
