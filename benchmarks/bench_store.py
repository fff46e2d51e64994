"""Store write latency: RunRecord saves (compare-and-swap) on the file store and on
DynamoDB (moto server on 127.0.0.1), 200 each, with a record of a realistic size."""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime

from benchmarks.common import summary
from deployer.core.ports import Store
from deployer.core.record import RunRecord
from deployer.core.settings import Settings
from deployer.demo.server import local_aws, use_fake_credentials
from deployer.store.dynamo_store import DynamoStore
from deployer.store.file_store import FileStore

WRITES = 200


def _record() -> RunRecord:
    record = RunRecord(run_id="bench-20261126T000000Z-0001", plan_name="bench",
                       target_key="lambda:us-east-1:bench:live",
                       target={"kind": "lambda", "function": "bench", "alias": "live",
                               "stable_version": "1", "new_version": "2"},
                       plan={"version": 1, "name": "bench"}, started_at="t")
    for index in range(30):
        record.add_event(datetime.now(UTC), f"event {index}: shifted to {index}%", step=index)
    return record


def _time_saves(store: Store) -> list[float]:
    record = _record()
    store.create(record)
    samples = []
    for _ in range(WRITES):
        start = time.perf_counter()
        store.save(record)
        samples.append(time.perf_counter() - start)
    return samples


def run() -> dict[str, float]:
    use_fake_credentials()
    with tempfile.TemporaryDirectory() as folder:
        file_samples = _time_saves(FileStore(folder))
    print(f"  file:// save (fsync + rename)  {summary(file_samples)}")
    with local_aws() as endpoint:
        store = DynamoStore("bench", Settings(region="us-east-1", endpoint_url=endpoint))
        store.initialise()
        dynamo_samples = _time_saves(store)
    print(f"  dynamodb:// save (moto server) {summary(dynamo_samples)}")
    return {}


if __name__ == "__main__":
    run()
