"""Targets in other regions and accounts (SPEC §13), at the AWS layer, on moto
in-process: one context per place, the role assumed with the run id as its session
name, its credentials renewed before they expire (botocore's clock moved forward, as
a six-hour run would see it), and a role that cannot be assumed refusing the run."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore import credentials as botocore_credentials

from deployer.aws import AwsContext
from deployer.errors import PreflightError, TargetError

pytestmark = pytest.mark.usefixtures("moto_aws")

ROLE = "arn:aws:iam::222233334444:role/deployer-target"


def assumed(context: AwsContext) -> list[dict[str, Any]]:
    """Every AssumeRole the context's STS client sends, from now on."""
    calls: list[dict[str, Any]] = []
    context.client("sts").meta.events.register(
        "provide-client-params.sts.AssumeRole", lambda params, **_: calls.append(params))
    return calls


def test_a_place_is_its_region_and_the_roles_account() -> None:
    runner = AwsContext(region="us-east-1")
    runner.session_name = "api-20261206T010203Z-ab12"
    here = runner.place("us-east-1")
    assert here is runner  # the runner's own place: the same clients
    there = runner.place("eu-west-1", ROLE)
    assert there is runner.place("eu-west-1", ROLE)  # one context per place
    assert there.region == "eu-west-1" and there.account == "222233334444"
    identity = there.client("sts").get_caller_identity()
    assert identity["Account"] == "222233334444"
    assert identity["Arn"].endswith("/deployer-target/api-20261206T010203Z-ab12")
    # what it creates lives in that account and region only
    there.client("lambda").list_functions()
    assert runner.place("eu-west-1").region == "eu-west-1"
    assert runner.place("eu-west-1").client("sts").get_caller_identity()["Account"] != \
        "222233334444"


def test_the_roles_credentials_are_renewed_before_they_expire(
        monkeypatch: pytest.MonkeyPatch) -> None:
    runner = AwsContext(region="us-east-1")
    calls = assumed(runner)
    there = runner.place("eu-west-1", ROLE, external_id="ext-123")
    there.client("lambda").list_functions()
    assert len(calls) == 1 and calls[0]["ExternalId"] == "ext-123"
    there.client("lambda").list_functions()
    assert len(calls) == 1  # still fresh: no new session
    # An hour later (moto's sessions last an hour): botocore renews them ahead.
    later = datetime.now(botocore_credentials.tzutc()) + timedelta(minutes=55)
    held = there.session._session.get_credentials()  # botocore's clock for them
    monkeypatch.setattr(held, "_time_fetcher", lambda: later)
    there.client("lambda").list_functions()
    assert len(calls) == 2


def test_a_role_that_cannot_be_assumed_refuses_naming_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    runner = AwsContext(region="us-east-1")
    there = runner.place("eu-west-1", ROLE)
    from botocore.stub import Stubber

    with Stubber(runner.client("sts")) as sts:  # moto assumes any role: say what AWS says
        sts.add_client_error("assume_role", "AccessDenied",
                             "User is not authorized to perform: sts:AssumeRole")
        with pytest.raises(PreflightError) as refused:
            there.client("lambda").list_functions()
    assert f"cannot assume {ROLE}: AccessDenied" in refused.value.message
    assert "trust policy" in (refused.value.hint or "")
    assert isinstance(refused.value, PreflightError) and not isinstance(refused.value,
                                                                         TargetError)


def test_a_session_name_aws_takes() -> None:
    from deployer.aws import _session_name

    assert _session_name("shop-20261206T010203Z-ab12") == "shop-20261206T010203Z-ab12"
    assert _session_name("a b/c" * 30) == ("a-b-c" * 30)[:64]
    assert _session_name("") == "deployer"
    assert boto3  # the module under test builds boto3 sessions
