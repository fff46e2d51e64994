"""Runs one hook at a time in a worker thread, so the controller keeps ticking (polling
alarms, taking signals and operator requests) while a smoke test or a Lambda hook
takes its time. Finishing wakes the controller's sleep."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from deployer.core.ports import Hook, HookResult


@dataclass(slots=True)
class _Running:
    hook: Hook
    future: Future[HookResult]
    cancel: threading.Event


class HookRunner:
    def __init__(self, wake: threading.Event) -> None:
        self.wake = wake
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hook")
        self._running: _Running | None = None

    @property
    def busy(self) -> bool:
        return self._running is not None

    def start(self, hook: Hook, context: dict[str, str]) -> None:
        cancel = threading.Event()
        future = self._executor.submit(hook.run, context, cancel)
        future.add_done_callback(lambda _: self.wake.set())
        self._running = _Running(hook, future, cancel)

    def finished(self) -> tuple[Hook, HookResult] | None:
        """The hook and its result once it is done; None while it runs."""
        running = self._running
        if running is None or not running.future.done():
            return None
        self._running = None
        try:
            return running.hook, running.future.result()
        except Exception as exc:  # a hook that crashes has failed, nothing more
            return running.hook, HookResult(False, f"hook crashed: {type(exc).__name__}: {exc}")

    def cancel(self) -> None:
        if self._running is not None:
            self._running.cancel.set()
            self._running = None

    def close(self) -> None:
        self.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
