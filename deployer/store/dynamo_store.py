"""`dynamodb://TABLE`: one item per run and one per target lock, in one table.

Run items hold the record as JSON with a `version` attribute; every save is a
conditional write on it, so a controller and an operator never lose each other's
update. Lock items are taken with attribute_not_exists (or from a run that has
ended). Ended runs get a `ttl` so DynamoDB deletes them after RETENTION.

A run executed by AWS Step Functions also has `sf_*` attributes, which its state
machine updates (machine_state.py); loading merges them into the record, and a save
writes the merged record back (so the attributes only ever hold what is newer).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from deployer.aws import AwsContext, error_code
from deployer.core.record import RunRecord
from deployer.errors import StoreError
from deployer.store import RunNotFound, StoreConflict, holds_the_target
from deployer.store.machine_state import merge_machine_state, requests_for_the_machine

if TYPE_CHECKING:
    from deployer.core.settings import Settings

RETENTION_SECONDS = 90 * 86400
CONDITION_FAILED = "ConditionalCheckFailedException"


class DynamoStore:
    def __init__(self, table: str, settings: Settings | None = None) -> None:
        self.table = table
        self.aws = AwsContext(region=settings.region if settings else None,
                              profile=settings.profile if settings else None,
                              endpoint_url=settings.endpoint_url if settings else None)
        self.client = self.aws.client("dynamodb")

    # ------------------------------------------------------------ plumbing

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return self.aws.call(getattr(self.client, operation), TableName=self.table, **kwargs)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                raise StoreError(f"the DynamoDB table {self.table} does not exist",
                                 hint=f"create it: deployer store init dynamodb://{self.table}"
                                 ) from None
            raise

    def _item(self, record: RunRecord) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pk": {"S": f"run#{record.run_id}"},
            "version": {"N": str(record.version)},
            "doc": {"S": json.dumps(record.to_json(), sort_keys=True)},
            "target_key": {"S": record.target_key},
            "started_at": {"S": record.started_at},
            "terminal": {"BOOL": record.terminal},
        }
        if record.terminal:
            item["ttl"] = {"N": str(int(time.time()) + RETENTION_SECONDS)}
        if record.on_stepfunctions:
            item.update(requests_for_the_machine(record))
        return item

    def _record(self, item: dict[str, Any]) -> RunRecord:
        try:
            record = RunRecord.from_json(json.loads(item["doc"]["S"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"the item {item.get('pk', {}).get('S')} in table {self.table} "
                             f"is corrupt ({exc})") from None
        record.version = int(item["version"]["N"])
        if record.on_stepfunctions:
            merge_machine_state(record, item)
        return record

    # ------------------------------------------------------------ records

    def create(self, record: RunRecord) -> None:
        record.version = 1
        try:
            self._call("put_item", Item=self._item(record),
                       ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if error_code(exc) == CONDITION_FAILED:
                raise StoreError(f"run {record.run_id} already exists") from None
            raise StoreError(f"cannot write to {self.table}: {exc}") from exc

    def load(self, run_id: str) -> RunRecord:
        try:
            item = self._call("get_item", Key={"pk": {"S": f"run#{run_id}"}},
                              ConsistentRead=True).get("Item")
        except ClientError as exc:
            raise StoreError(f"cannot read {self.table}: {exc}") from exc
        if not item:
            raise RunNotFound(f"no run {run_id!r} in the store dynamodb://{self.table}")
        return self._record(item)

    def save(self, record: RunRecord) -> None:
        expected = record.version
        record.version = expected + 1
        try:
            self._call("put_item", Item=self._item(record),
                       ConditionExpression="version = :expected",
                       ExpressionAttributeValues={":expected": {"N": str(expected)}})
        except ClientError as exc:
            record.version = expected
            if error_code(exc) == CONDITION_FAILED:
                raise StoreConflict(f"run {record.run_id} was changed by someone else") from None
            raise StoreError(f"cannot write to {self.table}: {exc}") from exc
        except BaseException:
            record.version = expected
            raise

    def runs(self) -> Iterator[RunRecord]:
        kwargs: dict[str, Any] = {"FilterExpression": "begins_with(pk, :runs)",
                                  "ExpressionAttributeValues": {":runs": {"S": "run#"}},
                                  "ConsistentRead": True}
        while True:
            try:
                page = self._call("scan", **kwargs)
            except ClientError as exc:
                raise StoreError(f"cannot read {self.table}: {exc}") from exc
            for item in page.get("Items", []):
                yield self._record(item)
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # ------------------------------------------------------------ locks

    def acquire_lock(self, target_key: str, run_id: str, expires_at: float) -> str | None:
        key = {"pk": {"S": f"lock#{target_key}"}}
        item = {**key, "run_id": {"S": run_id}, "expires_at": {"N": str(int(expires_at))}}
        condition = "attribute_not_exists(pk) OR run_id = :holder"
        holder = run_id
        for _ in range(5):
            try:
                self._call("put_item", Item=item, ConditionExpression=condition,
                           ExpressionAttributeValues={":holder": {"S": holder}})
                return None
            except ClientError as exc:
                if error_code(exc) != CONDITION_FAILED:
                    raise StoreError(f"cannot write to {self.table}: {exc}") from exc
            current = self._call("get_item", Key=key, ConsistentRead=True).get("Item")
            holder = current["run_id"]["S"] if current else run_id
            if current and holds_the_target(self, holder):
                return holder
        raise StoreError(f"the lock on {target_key} keeps changing; try again")


    def release_lock(self, target_key: str, run_id: str) -> None:
        try:
            self._call("delete_item", Key={"pk": {"S": f"lock#{target_key}"}},
                       ConditionExpression="run_id = :me",
                       ExpressionAttributeValues={":me": {"S": run_id}})
        except ClientError as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise StoreError(f"cannot write to {self.table}: {exc}") from exc

    # ------------------------------------------------------------ setup

    def initialise(self) -> str:
        created = True
        try:
            self.aws.call(self.client.create_table, TableName=self.table,
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
        except ClientError as exc:
            if error_code(exc) != "ResourceInUseException":
                raise StoreError(f"cannot create table {self.table}: {exc}") from exc
            created = False
        self.client.get_waiter("table_exists").wait(
            TableName=self.table, WaiterConfig={"Delay": 2, "MaxAttempts": 60})
        self.aws.call(self.client.update_time_to_live, TableName=self.table,
                      TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
        verb = "created" if created else "already existed;"
        return (f"dynamodb://{self.table}: table {verb} on-demand billing, runs expire "
                f"{RETENTION_SECONDS // 86400} days after they end (TTL attribute ttl)")
