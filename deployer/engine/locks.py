"""A run's locks in the store: one per traffic resource, all or none, taken in sorted
order so that two runs over overlapping targets never deadlock (SPEC §6.4, §8)."""

from __future__ import annotations

from collections.abc import Sequence

from deployer.core.ports import Store
from deployer.errors import StoreError
from deployer.logs import get_logger


def take_locks(store: Store, keys: Sequence[str], run_id: str,
               expires_at: float) -> tuple[str, str] | None:
    """Every lock, or none: the key and holder of the first one held by another run
    (the ones taken before it are given back)."""
    taken: list[str] = []
    for key in sorted(keys):
        holder = store.acquire_lock(key, run_id, expires_at)
        if holder is not None:
            release_locks(store, taken, run_id)
            return key, holder
        taken.append(key)
    return None


def release_locks(store: Store, keys: Sequence[str], run_id: str) -> None:
    """Give back what this run holds (a release never removes another run's lock)."""
    for key in keys:
        try:
            store.release_lock(key, run_id)
        except StoreError as exc:
            get_logger(run_id=run_id).warning("lock_release_failed", key=key,
                                              error=exc.message)


def holder_hint(store: Store, holder: str) -> str:
    """What to do about a lock held by run `holder`: wait for a live one; end a dead one
    (its controller's lease expired), which otherwise blocks every later release."""
    from deployer.core.record import controller_dead

    try:
        record = store.load(holder)
    except StoreError:
        return f"wait for it, or: deployer status {holder}"
    if controller_dead(record):
        return (f"its controller is dead (lease expired): end it with `deployer abort "
                f"{holder}` (rolls it back) or `deployer rollback PLAN`")
    return f"wait for it, or: deployer status {holder}"

