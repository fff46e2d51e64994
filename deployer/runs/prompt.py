"""The inline approval prompt: on a TTY without --yes, a controller waiting at an
approval step also reads answers from its own terminal. An answer becomes the same
request `deployer approve` / `abort` writes, so the event trail looks the same."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from deployer.core.ports import Observer, Store
from deployer.core.record import Phase, RunRecord
from deployer.display.progress import say
from deployer.errors import DeployerError
from deployer.runs.operator import submit

APPROVE = {"a", "approve", "y", "yes"}
ABORT = {"x", "abort", "n", "no"}


class InlineApproval:
    def __init__(self, store: Store, by: str, stream: TextIO | None = None) -> None:
        self.store = store
        self.by = f"{by} (inline prompt)"
        self.stream = stream or sys.stdin
        self.record: RunRecord | None = None
        self.thread: threading.Thread | None = None

    def event(self, record: RunRecord, message: str) -> None:
        self.record = record
        if record.phase == Phase.AWAITING_APPROVAL:
            say(f"\napproval needed for {record.run_id}: type 'approve' or 'abort' and "
                f"Enter (or run: deployer approve {record.run_id})", err=True)
            if self.thread is None:
                self.thread = threading.Thread(target=self._answers, daemon=True,
                                               name="approval-prompt")
                self.thread.start()

    def tick(self, record: RunRecord, remaining: float | None) -> None:
        self.record = record

    def close(self) -> None:
        pass

    def _answers(self) -> None:
        for line in self.stream:
            answer = line.strip().lower()
            record = self.record
            if record is None or record.phase != Phase.AWAITING_APPROVAL:
                continue
            action = "approve" if answer in APPROVE else "abort" if answer in ABORT else None
            if action is None:
                say("keep waiting (type 'approve' or 'abort')", err=True)
                continue
            try:
                submit(self.store, record.run_id, action, self.by, "answered at the prompt")
            except DeployerError as exc:
                say(f"deployer: {exc.message}", err=True)


class Observers:
    """Several observers as one."""

    def __init__(self, *members: Observer) -> None:
        self.members = members

    def event(self, record: RunRecord, message: str) -> None:
        for member in self.members:
            member.event(record, message)

    def tick(self, record: RunRecord, remaining: float | None) -> None:
        for member in self.members:
            member.tick(record, remaining)

    def close(self) -> None:
        for member in self.members:
            member.close()
