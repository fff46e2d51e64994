"""WeightedRecords against moto in-process: what preflight refuses (nothing written),
and a write that keeps every other field of the records."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from deployer.aws import AwsContext
from deployer.demo.more_worlds import Route53World, create_route53_world
from deployer.errors import PreflightError
from deployer.plan.model import Route53Target
from deployer.targets.route53 import WeightedRecords

pytestmark = pytest.mark.usefixtures("moto_aws")


def target(world: Route53World) -> WeightedRecords:
    spec = Route53Target.model_validate({"zone": world.zone, "name": world.name, "type": "A",
                                         "records": {"blue": world.blue, "green": world.green}})
    return WeightedRecords(spec, AwsContext(region="us-east-1"))


def change(world: Route53World, action: str, record: dict[str, Any]) -> None:
    boto3.client("route53").change_resource_record_sets(
        HostedZoneId=world.zone, ChangeBatch={"Changes": [
            {"Action": action, "ResourceRecordSet": {"Name": world.name, "Type": "A",
                                                     **record}}]})


def test_a_missing_record_is_named_with_what_there_is() -> None:
    world = create_route53_world(None)  # type: ignore[arg-type]
    spec = target(world)
    spec.spec = spec.spec.model_copy(update={"records": spec.spec.records.model_copy(
        update={"green": "api-typo"})})
    with pytest.raises(PreflightError) as refused:
        spec.preflight(resuming=False)
    assert refused.value.message == f"A {world.name} in zone {world.zone} has no record with " \
        "SetIdentifier api-typo"
    assert "found: api-blue, api-green" in str(refused.value.hint)


def test_split_weights_are_refused_and_left_alone() -> None:
    world = create_route53_world(None)  # type: ignore[arg-type]
    change(world, "UPSERT", {"SetIdentifier": world.green, "Weight": 30, "TTL": 60,
                             "ResourceRecords": [{"Value": "192.0.2.20"}]})
    with pytest.raises(PreflightError, match=r"is split \(api-blue 100, api-green 30"):
        target(world).preflight(resuming=False)
    assert world.weights() == {world.blue: 100, world.green: 30}


def test_different_ttls_are_refused() -> None:
    world = create_route53_world(None)  # type: ignore[arg-type]
    change(world, "UPSERT", {"SetIdentifier": world.green, "Weight": 0, "TTL": 300,
                             "ResourceRecords": [{"Value": "192.0.2.20"}]})
    with pytest.raises(PreflightError, match="different TTLs"):
        target(world).preflight(resuming=False)


def test_a_shift_keeps_every_other_field_of_the_records() -> None:
    world = create_route53_world(None)  # type: ignore[arg-type]
    records = target(world)
    records.preflight(resuming=False)
    reading = records.shift(12.5)
    assert reading.new_weight == 12.5
    assert world.weights() == {world.blue: 252, world.green: 36}
    found = boto3.client("route53").list_resource_record_sets(
        HostedZoneId=world.zone)["ResourceRecordSets"]
    green = next(r for r in found if r.get("SetIdentifier") == world.green)
    assert green["TTL"] == 60 and green["ResourceRecords"] == [{"Value": "192.0.2.20"}]
    assert records.rollback().new_weight == 0
    assert world.weights() == {world.blue: 100, world.green: 0}


def test_names_route53_lists_with_octal_escapes_are_matched() -> None:
    from deployer.targets.route53 import unescaped

    assert unescaped("\\052.example.com.") == "*.example.com."
    assert unescaped("api\\100x.example.com.") == "api@x.example.com."
    assert unescaped("api.example.com.") == "api.example.com."
