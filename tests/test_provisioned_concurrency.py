"""Provisioned concurrency on the new version. moto has no PC APIs (404 "Not yet
implemented"), so these use botocore's Stubber on the Lambda client."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from deployer.aws import AwsContext
from deployer.errors import NewVersionUnhealthy
from deployer.plan.model import LambdaTarget
from deployer.targets.lambda_versions import PC_POLL, LambdaVersions
from tests.fakes import FakeClock

pytestmark = pytest.mark.usefixtures("aws_env")


def versions(pc: Any) -> tuple[LambdaVersions, Stubber, FakeClock]:
    spec = LambdaTarget.model_validate({"function": "f", "alias": "live", "version": "2",
                                        "provisioned_concurrency": pc})
    clock = FakeClock()
    subject = LambdaVersions(spec, AwsContext(region="us-east-1"), clock)
    return subject, Stubber(subject.client), clock


def pc_status(status: str, amount: int = 5, reason: str = "") -> dict[str, Any]:
    answer: dict[str, Any] = {"RequestedProvisionedConcurrentExecutions": amount,
                              "Status": status}
    if reason:
        answer["StatusReason"] = reason
    return answer


def test_match_copies_the_stable_versions_pc_and_waits_for_ready() -> None:
    subject, stubber, clock = versions("match")
    stubber.add_response("get_provisioned_concurrency_config", pc_status("READY", 7),
                         {"FunctionName": "f", "Qualifier": "1"})
    stubber.add_response("put_provisioned_concurrency_config", {},
                         {"FunctionName": "f", "Qualifier": "2",
                          "ProvisionedConcurrentExecutions": 7})
    stubber.add_response("get_provisioned_concurrency_config", pc_status("IN_PROGRESS", 7),
                         {"FunctionName": "f", "Qualifier": "2"})
    stubber.add_response("get_provisioned_concurrency_config", pc_status("READY", 7),
                         {"FunctionName": "f", "Qualifier": "2"})
    with stubber:
        subject.provision("1", "2")
        stubber.assert_no_pending_responses()
    assert clock.sleeps == [PC_POLL]
    assert subject.state() == {"new_version": 7}


def test_explicit_amount_and_failed_allocation() -> None:
    subject, stubber, _ = versions(3)
    stubber.add_response("put_provisioned_concurrency_config", {},
                         {"FunctionName": "f", "Qualifier": "2",
                          "ProvisionedConcurrentExecutions": 3})
    stubber.add_response("get_provisioned_concurrency_config",
                         pc_status("FAILED", 3, "init failed"), {"FunctionName": "f",
                                                                 "Qualifier": "2"})
    with stubber, pytest.raises(NewVersionUnhealthy, match="failed: init failed"):
        subject.provision("1", "2")


def test_match_without_pc_on_stable_does_nothing() -> None:
    subject, stubber, _ = versions("match")
    stubber.add_client_error("get_provisioned_concurrency_config",
                             "ProvisionedConcurrencyConfigNotFoundException", "none", 404)
    with stubber:
        subject.provision("1", "2")
        stubber.assert_no_pending_responses()
    assert subject.state() is None


def test_discard_removes_pc_from_the_new_version_after_rollback() -> None:
    subject, stubber, _ = versions(3)
    subject.provisioned = 3
    stubber.add_response("delete_provisioned_concurrency_config", {},
                         {"FunctionName": "f", "Qualifier": "2"})
    with stubber:
        subject.discard("2")
        stubber.assert_no_pending_responses()


def test_retire_removes_the_old_versions_pc() -> None:
    subject, stubber, _ = versions("match")
    stubber.add_response("get_provisioned_concurrency_config", pc_status("READY"),
                         {"FunctionName": "f", "Qualifier": "1"})
    stubber.add_response("delete_provisioned_concurrency_config", {},
                         {"FunctionName": "f", "Qualifier": ANY})
    with stubber:
        subject.retire("1")
        stubber.assert_no_pending_responses()


def test_none_never_calls_aws() -> None:
    subject, stubber, _ = versions("none")
    with stubber:
        subject.provision("1", "2")
        subject.retire("1")
        subject.discard("2")
