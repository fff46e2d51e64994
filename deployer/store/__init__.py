"""Run stores: where run records and per-target locks live (file:// or dynamodb://)."""

from __future__ import annotations

from deployer.errors import StoreError, UsageError
from deployer.ports import Store


class StoreConflict(StoreError):
    """Someone else saved the record since we loaded it (optimistic concurrency)."""


class RunNotFound(StoreError):
    exit_code = StoreError.exit_code


def open_store(url: str) -> Store:
    """`file://DIR` (relative or absolute) or `dynamodb://TABLE`."""
    if url.startswith("file://"):
        from deployer.store.file_store import FileStore

        return FileStore(url.removeprefix("file://") or ".")
    if url.startswith("dynamodb://"):
        raise UsageError("the dynamodb:// store is not built yet in this version; "
                         "use file://DIR")
    raise UsageError(f"unknown store URL {url!r}; use file://DIR or dynamodb://TABLE")
