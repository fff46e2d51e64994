"""LambdaAliasTarget against moto in-process (multi-call scenarios)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from deployer.aws import AwsContext
from deployer.demo.world import LambdaWorld, create_lambda_world
from deployer.errors import Drift, PreflightError, TargetError
from deployer.plan.model import LambdaTarget
from deployer.targets.lambda_alias import LambdaAliasTarget
from tests.fakes import FakeClock

pytestmark = pytest.mark.usefixtures("moto_aws")


@pytest.fixture
def world() -> LambdaWorld:
    return create_lambda_world(None, versions=3)  # type: ignore[arg-type]


def target_for(world: LambdaWorld, **spec: Any) -> LambdaAliasTarget:
    fields = {"function": world.function, "alias": world.alias, "version": world.new, **spec}
    if "publish" in spec or "code" in spec:
        fields.pop("version")
    return LambdaAliasTarget(LambdaTarget.model_validate(fields), AwsContext(), FakeClock())


def test_shift_reads_back_and_promote_clears_routing(world: LambdaWorld) -> None:
    target = target_for(world)
    target.preflight(resuming=False)
    assert target.describe()["stable_version"] == world.stable
    assert target.read().new_weight == 0
    reading = target.shift(10)
    assert reading.new_weight == 10
    assert world.alias_state() == (world.stable, {world.new: 0.1})
    assert target.shift(55.5).new_weight == 55.5
    assert target.shift(100).new_weight == 100
    assert world.alias_state() == (world.new, {})


def test_rollback_restores_stable_with_no_routing(world: LambdaWorld) -> None:
    target = target_for(world)
    target.preflight(resuming=False)
    target.shift(30)
    assert target.rollback().new_weight == 0
    assert world.alias_state() == (world.stable, {})


def test_publish_true_publishes_latest(world: LambdaWorld) -> None:
    target = target_for(world, publish=True)
    target.preflight(resuming=False)
    target.prepare()
    new = target.describe()["new_version"]
    assert new not in (None, world.stable)
    target.shift(20)
    assert world.alias_state() == (world.stable, {new: 0.2})


def test_missing_alias_is_refused(world: LambdaWorld) -> None:
    with pytest.raises(PreflightError, match="alias nope of function checkout does not exist"):
        target_for(world, alias="nope").preflight(resuming=False)


def test_missing_version_is_refused(world: LambdaWorld) -> None:
    with pytest.raises(PreflightError, match="version 99 of function checkout does not exist"):
        target_for(world, version="99").preflight(resuming=False)


def test_an_alias_already_split_is_refused_and_left_alone(world: LambdaWorld) -> None:
    boto3.client("lambda").update_alias(
        FunctionName=world.function, Name=world.alias,
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    with pytest.raises(PreflightError, match="already split"):
        target_for(world).preflight(resuming=False)
    assert world.alias_state() == (world.stable, {"2": 0.5})


def test_alias_on_latest_is_refused(world: LambdaWorld) -> None:
    boto3.client("lambda").update_alias(FunctionName=world.function, Name=world.alias,
                                        FunctionVersion="$LATEST")
    with pytest.raises(PreflightError, match="points at \\$LATEST"):
        target_for(world).preflight(resuming=False)


def test_new_equal_to_stable_is_already_done(world: LambdaWorld) -> None:
    target = target_for(world, version=world.stable)
    target.preflight(resuming=False)
    assert target.already_done()


def test_different_execution_roles_are_refused(world: LambdaWorld) -> None:
    iam, lam = boto3.client("iam"), boto3.client("lambda")
    other = iam.create_role(RoleName="other", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam.update_function_configuration(FunctionName=world.function, Role=other)
    newest = lam.publish_version(FunctionName=world.function)["Version"]
    with pytest.raises(PreflightError, match="different execution roles"):
        target_for(world, version=newest).preflight(resuming=False)


def test_read_reports_an_alias_moved_elsewhere(world: LambdaWorld) -> None:
    target = target_for(world, version="3")
    target.preflight(resuming=False)
    boto3.client("lambda").update_alias(FunctionName=world.function, Name=world.alias,
                                        FunctionVersion="2")
    reading = target.read()
    assert reading.new_weight is None
    assert reading.detail == "100% on version 2"


def test_read_back_mismatch_is_an_error(world: LambdaWorld, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    target = target_for(world)
    target.preflight(resuming=False)
    real_read = target.read

    def stale() -> Any:
        reading = real_read()
        return type(reading)(0.0, "100% on version 1 (stale)")

    monkeypatch.setattr(target, "read", stale)
    with pytest.raises(TargetError, match="reads back 100% on version 1 \\(stale\\) after "
                                          "asking for 10%"):
        target.shift(10)


def test_stale_revision_is_drift(world: LambdaWorld) -> None:
    from botocore.stub import Stubber

    target = target_for(world)
    target.preflight(resuming=False)
    target.revision = "rev-1"
    with Stubber(target.client) as stubber:  # moto never changes RevisionId
        stubber.add_client_error("update_alias", "PreconditionFailedException",
                                 "The RevisionId provided does not match", 412)
        with pytest.raises(Drift, match=r"^drift: alias live was changed by someone else"):
            target.shift(10)


def test_code_from_s3_updates_waits_and_publishes(world: LambdaWorld) -> None:
    from deployer.demo.world import _zip

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="artifacts")
    s3.put_object(Bucket="artifacts", Key="app.zip", Body=_zip("def main(e, c): return 9"))
    target = target_for(world, code={"s3_bucket": "artifacts", "s3_key": "app.zip"})
    target.preflight(resuming=False)
    target.prepare()
    new = target.describe()["new_version"]
    assert new == "4"
    config = boto3.client("lambda").get_function_configuration(FunctionName=world.function,
                                                               Qualifier=new)
    assert config["Description"] == "published by deployer"


def test_publishing_an_unchanged_latest_is_already_done(world: LambdaWorld) -> None:
    lam = boto3.client("lambda")
    lam.update_alias(FunctionName=world.function, Name=world.alias, FunctionVersion="3")
    target = target_for(world, publish=True)
    target.preflight(resuming=False)
    target.prepare()
    assert target.describe()["new_version"] == "3"
    assert target.already_done()
