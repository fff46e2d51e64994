"""Run stores: where run records and per-target locks live (file:// or dynamodb://)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from deployer.core.ports import Store
from deployer.errors import ExitCode, StoreError, UsageError

if TYPE_CHECKING:
    from deployer.core.settings import Settings


class StoreConflict(StoreError):
    """Someone else saved the record since we loaded it (optimistic concurrency)."""


class RunNotFound(StoreError):
    """No run with that id in this store (a usage problem: wrong id or wrong --store)."""

    exit_code = ExitCode.INVALID


def holds_the_target(store: Store, run_id: str) -> bool:
    """A lock holder keeps its target while its run has not ended (or is unknown: gone)."""
    try:
        return not store.load(run_id).terminal
    except RunNotFound:
        return False


def open_store(url: str, settings: Settings | None = None) -> Store:
    """`file://DIR` (relative or absolute) or `dynamodb://TABLE`."""
    if url.startswith("file://"):
        from deployer.store.file_store import FileStore

        return FileStore(url.removeprefix("file://") or ".")
    if url.startswith("dynamodb://"):
        from deployer.store.dynamo_store import DynamoStore

        return DynamoStore(_table(url), settings)
    raise UsageError(f"unknown store URL {url!r}; use file://DIR or dynamodb://TABLE")


def _table(url: str) -> str:
    table = url.removeprefix("dynamodb://").strip("/")
    if not table:
        raise UsageError("write the store as dynamodb://TABLE")
    return table


def init_store(url: str, settings: Settings | None = None) -> str:
    """Create what the store needs; say what was done."""
    store = open_store(url, settings)
    return store.initialise() if hasattr(store, "initialise") else f"{url}: ready"
