"""Store contract, run against every store (file:// now)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from deployer.core.ports import Store
from deployer.core.record import Outcome, Phase, RunRecord
from deployer.core.settings import Settings
from deployer.errors import StoreError, UsageError
from deployer.store import RunNotFound, StoreConflict, open_store
from deployer.store.dynamo_store import DynamoStore
from deployer.store.file_store import FileStore


def record(run_id: str = "app-20261126T120000Z-abcd", key: str = "lambda:us-east-1:f:live"
           ) -> RunRecord:
    return RunRecord(run_id=run_id, plan_name="app", target_key=key, target={"kind": "lambda"},
                     plan={"version": 1}, started_at="2026-11-26T12:00:00Z")


@pytest.fixture(params=["file", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "file":
        yield FileStore(tmp_path / "store")
        return
    request.getfixturevalue("moto_aws")
    dynamo = DynamoStore("deployer-runs", Settings(region="us-east-1"))
    assert "table created" in dynamo.initialise()
    yield dynamo


def test_create_load_roundtrip(store: Store) -> None:
    run = record()
    run.add_event(datetime(2026, 11, 26, tzinfo=UTC), "hello", step=1)
    store.create(run)
    loaded = store.load(run.run_id)
    assert loaded.to_json() == run.to_json()
    assert loaded.version == 1


def test_optimistic_concurrency(store: Store) -> None:
    store.create(record())
    controller = store.load(record().run_id)
    operator = store.load(record().run_id)
    operator.requests.append({"id": "r1", "action": "abort"})
    store.save(operator)
    controller.phase = Phase.PREPARING
    with pytest.raises(StoreConflict):
        store.save(controller)
    assert store.load(record().run_id).requests == [{"id": "r1", "action": "abort"}]
    assert store.load(record().run_id).version == 2


def test_missing_run(store: Store) -> None:
    with pytest.raises(RunNotFound):
        store.load("nope")


def test_lock_is_refused_while_the_holder_is_active(store: Store) -> None:
    first, second = record("a-1"), record("a-2")
    store.create(first)
    store.create(second)
    assert store.acquire_lock(first.target_key, "a-1", 0) is None
    assert store.acquire_lock(first.target_key, "a-2", 0) == "a-1"
    assert store.acquire_lock("lambda:us-east-1:other:live", "a-2", 0) is None
    first.outcome, first.phase = Outcome.SUCCEEDED, Phase.SUCCEEDED
    store.save(first)
    assert store.acquire_lock(first.target_key, "a-2", 0) is None


def test_release_only_by_the_holder(store: Store) -> None:
    store.create(record("a-1"))
    store.create(record("a-2"))
    store.acquire_lock("k", "a-1", 0)
    store.release_lock("k", "a-2")
    assert store.acquire_lock("k", "a-2", 0) == "a-1"
    store.release_lock("k", "a-1")
    assert store.acquire_lock("k", "a-2", 0) is None


def test_runs_lists_every_record(store: Store) -> None:
    for run_id in ("b-1", "a-1"):
        store.create(record(run_id))
    assert sorted(r.run_id for r in store.runs()) == ["a-1", "b-1"]


def test_corrupt_file_names_the_file(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.create(record("a-1"))
    path = tmp_path / "runs" / "a-1.json"
    path.write_text(path.read_text()[:40])
    with pytest.raises(StoreError, match=f"the store file {path} is corrupt"):
        store.load("a-1")


def test_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    run = record("a-1")
    store.create(run)
    for _ in range(3):
        store.save(run)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["a-1.json"]


@pytest.mark.parametrize(("url", "check"), [
    ("file://x/y", lambda s: isinstance(s, FileStore) and str(s.root) == "x/y"),
    ("file:///abs/dir", lambda s: str(s.root) == "/abs/dir"),
])
def test_open_store(url: str, check: Callable[[Store], bool]) -> None:
    assert check(open_store(url))


def test_unknown_store_url() -> None:
    with pytest.raises(UsageError, match="unknown store URL"):
        open_store("s3://bucket")


@pytest.mark.usefixtures("moto_aws")
def test_dynamodb_init_is_idempotent_and_sets_ttl() -> None:
    import boto3

    store = DynamoStore("runs", Settings(region="us-east-1"))
    store.initialise()
    assert "already existed" in store.initialise()
    ttl = boto3.client("dynamodb").describe_time_to_live(TableName="runs")
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "ttl"


@pytest.mark.usefixtures("moto_aws")
def test_dynamodb_ended_runs_get_a_ttl() -> None:
    import boto3

    store = DynamoStore("runs", Settings(region="us-east-1"))
    store.initialise()
    run = record("a-1")
    store.create(run)
    item = boto3.client("dynamodb").get_item(TableName="runs", Key={"pk": {"S": "run#a-1"}})
    assert "ttl" not in item["Item"]
    run.phase, run.outcome = Phase.SUCCEEDED, Outcome.SUCCEEDED
    store.save(run)
    item = boto3.client("dynamodb").get_item(TableName="runs", Key={"pk": {"S": "run#a-1"}})
    assert int(item["Item"]["ttl"]["N"]) > 0


@pytest.mark.usefixtures("moto_aws")
def test_dynamodb_missing_table_says_how_to_create_it() -> None:
    store = DynamoStore("nope", Settings(region="us-east-1"))
    with pytest.raises(StoreError, match="table nope does not exist") as caught:
        store.load("x")
    assert caught.value.hint == "create it: deployer store init dynamodb://nope"
