"""The run record's persistence for one controller: compare-and-swap saves that carry
this controller's lease, operator requests merged in from the store, and events
(logged, shown, saved). A save that meets a record whose lease names another
controller means the run was taken over: LeaseLost, and this controller stops."""

from __future__ import annotations

import os
import socket
from typing import Any

from deployer.core.ports import Clock, Observer, Store
from deployer.core.record import Phase, RunRecord, lease_alive
from deployer.errors import StoreError
from deployer.logs import get_logger
from deployer.store import StoreConflict


class LeaseLost(StoreError):
    """Another controller took this run over."""


class RunJournal:
    def __init__(self, record: RunRecord, store: Store, clock: Clock, observer: Observer,
                 lease_seconds: float) -> None:
        self.record = record
        self.store = store
        self.clock = clock
        self.observer = observer
        self.lease_seconds = lease_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._renewed = 0.0
        self.log = get_logger(run_id=record.run_id)

    # ------------------------------------------------------------ saving

    def save(self) -> None:
        wall = self.clock.wall().timestamp()
        self.record.lease = {"owner": self.owner, "expires_at": wall + self.lease_seconds}
        for _ in range(5):
            try:
                self.store.save(self.record)
                self._renewed = wall
                return
            except StoreConflict:
                stored = self.store.load(self.record.run_id)
                owner = (stored.lease or {}).get("owner")
                if owner not in (None, self.owner):  # operators' writes keep our lease
                    raise LeaseLost(f"run {stored.run_id} was taken over by {owner}; this "
                                    "controller stopped without touching traffic") from None
                self.merge_requests(stored)
                self.record.version = stored.version
        raise StoreError(f"could not save run {self.record.run_id}: it keeps changing")

    def claim(self) -> None:
        """Write our lease over the newest stored record (compare-and-swap)."""
        for _ in range(10):
            self.record.lease = {"owner": self.owner, "expires_at":
                                 self.clock.wall().timestamp() + self.lease_seconds}
            try:
                self.store.save(self.record)
                return
            except StoreConflict:
                self.record = self.store.load(self.record.run_id)
        raise StoreError(f"could not take over run {self.record.run_id}: it keeps changing")

    def lease_live(self) -> bool:
        return lease_alive(self.record, self.clock.wall().timestamp())

    def renew_if_due(self) -> None:
        if self.clock.wall().timestamp() - self._renewed > self.lease_seconds / 3:
            self.save()

    def move(self, phase: Phase, stage: str | None = None) -> None:
        self.record.move_to(phase)
        self.record.stage = stage
        self.save()

    def event(self, message: str, *, save: bool = True, **details: Any) -> None:
        self.record.add_event(self.clock.wall(), message, **details)
        self.log.info(message, phase=self.record.phase.value, weight=self.record.weight,
                      step=self.record.step_index, **details)
        self.observer.event(self.record, message)
        if save:
            self.save()

    def now_iso(self) -> str:
        return self.clock.wall().strftime("%Y-%m-%dT%H:%M:%SZ")

    # ------------------------------------------------------------ operator requests

    def take_requests(self) -> None:
        try:
            stored = self.store.load(self.record.run_id)
        except StoreError as exc:
            self.log.warning("store_read_failed", error=exc.message)
            return
        self.merge_requests(stored)

    def merge_requests(self, stored: RunRecord) -> None:
        for request in self.record.merge_requests(stored):
            self.event(f"request received: {request['action']} from "
                       f"{request.get('by') or 'an operator'}", save=False,
                       request=request["id"])

    def handled(self, action: str, note: str) -> None:
        request = self.record.mark_handled(action, note)
        if request is not None:
            self.event(note, request=request["id"])
