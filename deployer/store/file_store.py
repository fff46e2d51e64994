"""`file://DIR`: one JSON document per run, one per target lock.

Writes are atomic (temp file, fsync, rename, fsync of the directory). A
compare-and-swap on the record's `version` runs under an flock on DIR/.mutex,
so a controller and an operator command on the same machine never lose each
other's update.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from deployer.core.record import RunRecord
from deployer.errors import ExitCode, StoreError
from deployer.store import RunNotFound, StoreConflict, holds_the_target

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class StoreNotWritable(StoreError):
    """`store init` of a folder this user cannot write: a usage problem."""

    exit_code = ExitCode.INVALID


class FileStore:
    def __init__(self, directory: str | Path) -> None:
        self.root = Path(directory)

    def initialise(self) -> str:
        """`deployer store init file://DIR`: create the folders, and prove they take a
        write (exit 2 naming the folder when they do not)."""
        existed = (self.root / "runs").is_dir() and (self.root / "locks").is_dir()
        try:
            with self._mutex():  # creates the folders first
                probe = self.root / ".write-probe"
                probe.write_text("ok", encoding="utf-8")
                probe.unlink()
        except (StoreError, OSError) as exc:
            message = exc.message if isinstance(exc, StoreError) else \
                f"cannot write to the store at {self.root}: {exc.strerror or exc}"
            raise StoreNotWritable(message, hint="pick a folder this user can write, or "
                                                 "--store dynamodb://TABLE") from None
        verb = "ready (it already existed)" if existed else "created"
        return f"file://{self.root}: {verb}: runs/ and locks/ in {self.root.resolve()}"

    # ------------------------------------------------------------ files

    def _ensure(self) -> None:
        try:
            (self.root / "runs").mkdir(parents=True, exist_ok=True)
            (self.root / "locks").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store at {self.root}: {exc.strerror}") from exc

    @contextlib.contextmanager
    def _mutex(self) -> Iterator[None]:
        self._ensure()
        with open(self.root / ".mutex", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _run_path(self, run_id: str) -> Path:
        return self.root / "runs" / f"{_UNSAFE.sub('_', run_id)}.json"

    def _lock_path(self, target_key: str) -> Path:
        return self.root / "locks" / f"{_UNSAFE.sub('_', target_key)}.json"

    @staticmethod
    def _read(path: Path) -> dict[str, Any]:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror}") from exc
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StoreError(f"the store file {path} is corrupt ({exc}); move it away or "
                             "restore it from a backup") from None
        if not isinstance(data, dict):
            raise StoreError(f"the store file {path} is corrupt (not a JSON object)")
        return data

    @staticmethod
    def _write(path: Path, data: dict[str, Any]) -> None:
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    # ------------------------------------------------------------ records

    def create(self, record: RunRecord) -> None:
        with self._mutex():
            path = self._run_path(record.run_id)
            if path.exists():
                raise StoreError(f"run {record.run_id} already exists in {self.root}")
            record.version = 1
            self._write(path, record.to_json())

    def load(self, run_id: str) -> RunRecord:
        path = self._run_path(run_id)
        try:
            data = self._read(path)
        except FileNotFoundError:
            raise RunNotFound(f"no run {run_id!r} in the store {self.root}") from None
        try:
            return RunRecord.from_json(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"the store file {path} is corrupt ({exc})") from None

    def save(self, record: RunRecord) -> None:
        with self._mutex():
            path = self._run_path(record.run_id)
            try:
                stored = self._read(path).get("version")
            except FileNotFoundError:
                raise RunNotFound(f"run {record.run_id} vanished from {self.root}") from None
            if stored != record.version:
                raise StoreConflict(f"run {record.run_id} was changed by someone else "
                                    f"(version {stored}, expected {record.version})")
            record.version += 1
            try:
                self._write(path, record.to_json())
            except BaseException:
                record.version -= 1
                raise

    def runs(self) -> Iterator[RunRecord]:
        folder = self.root / "runs"
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*.json")):
            yield self.load(path.stem)

    # ------------------------------------------------------------ locks

    def acquire_lock(self, target_key: str, run_id: str, expires_at: float) -> str | None:
        with self._mutex():
            path = self._lock_path(target_key)
            with contextlib.suppress(FileNotFoundError):
                holder = self._read(path).get("run_id")
                if holder and holder != run_id and holds_the_target(self, str(holder)):
                    return str(holder)
            self._write(path, {"target": target_key, "run_id": run_id, "expires_at": expires_at})
            return None


    def release_lock(self, target_key: str, run_id: str) -> None:
        with self._mutex():
            path = self._lock_path(target_key)
            with contextlib.suppress(FileNotFoundError):
                if self._read(path).get("run_id") == run_id:
                    path.unlink()
