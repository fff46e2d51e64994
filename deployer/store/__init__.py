"""Run stores: where run records and per-target locks live (file:// or dynamodb://)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from deployer.core.ports import Store
from deployer.core.settings import DEFAULT_STORE
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

        defaulted = url == DEFAULT_STORE and settings is not None and not settings.store_given
        if defaulted and not _writable(Path(DEFAULT_STORE.removeprefix("file://"))):
            return FileStore(_fallback_store())
        return FileStore(url.removeprefix("file://") or ".")
    if url.startswith("dynamodb://"):
        from deployer.store.dynamo_store import DynamoStore

        return DynamoStore(_table(url), settings)
    raise UsageError(f"unknown store URL {url!r}; use file://DIR or dynamodb://TABLE")


def _writable(folder: Path) -> bool:
    """Whether the default store folder can be used here (it exists and takes writes,
    or it can be created in a folder that does)."""
    if folder.exists():
        return os.access(folder, os.W_OK | os.X_OK)
    return os.access(folder.parent.resolve(), os.W_OK | os.X_OK)


def _fallback_store() -> Path:
    """Where the default store goes when the working folder is not writable (a container
    running as another uid than the mounted checkout's owner): said once, loudly."""
    folder = Path(tempfile.gettempdir()) / f"deployer-store-{os.getuid()}"
    if not _WARNED:
        _WARNED.append(str(folder))
        sys.stderr.write(
            f"deployer: warning: cannot write the default store .deployer in {Path.cwd()} "
            f"(not writable by uid {os.getuid()}); using {folder} instead. Runs kept there "
            "are forgotten when this machine or container goes away, and so are their "
            "locks: pass --store dynamodb://TABLE (or a writable file://DIR), or run the "
            "image as the checkout's owner: docker run --user \"$(id -u):$(id -g)\" ...\n")
    return folder


_WARNED: list[str] = []  # once per process


def _table(url: str) -> str:
    table = url.removeprefix("dynamodb://").strip("/")
    if not table:
        raise UsageError("write the store as dynamodb://TABLE")
    return table


def init_store(url: str, settings: Settings | None = None) -> str:
    """Create what the store needs; say what was done."""
    if url.startswith("file://"):  # the folder named, never the default's fallback
        from deployer.store.file_store import FileStore

        return FileStore(url.removeprefix("file://") or ".").initialise()
    store = open_store(url, settings)
    return store.initialise() if hasattr(store, "initialise") else f"{url}: ready"
