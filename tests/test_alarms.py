"""CloudWatchAlarms against moto (metric alarms) and Stubber (composite alarms,
which moto's DescribeAlarms never returns)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from deployer.aws import AwsContext
from deployer.checks.alarms import CloudWatchAlarms
from deployer.errors import PreflightError
from deployer.plan.model import ChecksSpec


def alarms(names: list[str], **policy: str) -> CloudWatchAlarms:
    return CloudWatchAlarms(ChecksSpec.model_validate({"alarms": names, **policy}),
                            AwsContext(region="us-east-1"))


def make_alarm(name: str, state: str = "OK") -> None:
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.put_metric_alarm(AlarmName=name, Namespace="App", MetricName="Errors",
                                Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                                ComparisonOperator="GreaterThanThreshold")
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")


@pytest.mark.usefixtures("moto_aws")
class TestMetricAlarms:
    def test_healthy_then_alarm(self) -> None:
        make_alarm("errors")
        make_alarm("latency")
        check = alarms(["errors", "latency"])
        assert check.start().healthy
        assert check.evaluate().states == {"errors": "OK", "latency": "OK"}
        boto3.client("cloudwatch").set_alarm_state(AlarmName="latency", StateValue="ALARM",
                                                   StateReason="x")
        result = check.evaluate()
        assert not result.healthy
        assert result.reason == "alarm latency is in ALARM"

    def test_missing_alarm_is_refused_at_start(self) -> None:
        make_alarm("errors")
        with pytest.raises(PreflightError, match="alarm not found: typo"):
            alarms(["errors", "typo"]).start()

    def test_a_logical_id_is_refused_with_the_physical_name_it_meant(self) -> None:
        make_alarm("svc-dev-HelloFooAlarm-1M9QX2EXAMPL3")
        make_alarm("svc-dev-HelloFooAlarmTwo-AAAA")  # contains the id, not as a segment
        make_alarm("other-HelloBarAlarm-ZZZ")
        with pytest.raises(PreflightError) as refused:
            alarms(["HelloFooAlarm"]).start()
        assert refused.value.message == "alarm not found: HelloFooAlarm"
        assert refused.value.hint is not None
        assert "did you mean HelloFooAlarm -> svc-dev-HelloFooAlarm-1M9QX2EXAMPL3?" in \
            refused.value.hint

    def test_deleted_alarm_fails_closed(self) -> None:
        make_alarm("errors")
        check = alarms(["errors"])
        check.start()
        boto3.client("cloudwatch").delete_alarms(AlarmNames=["errors"])
        result = check.evaluate()
        assert not result.healthy
        assert result.reason == "alarm errors no longer exists"

    def test_already_firing_blocks_by_default(self) -> None:
        make_alarm("errors", "ALARM")
        with pytest.raises(PreflightError, match="already in ALARM before the release"):
            alarms(["errors"]).start()

    def test_already_firing_ignore_mutes_until_it_recovers(self) -> None:
        make_alarm("errors", "ALARM")
        check = alarms(["errors"], already_firing="ignore")
        assert check.start().healthy
        assert check.evaluate().healthy  # still firing, but muted
        cloudwatch = boto3.client("cloudwatch")
        cloudwatch.set_alarm_state(AlarmName="errors", StateValue="OK", StateReason="fixed")
        assert check.evaluate().healthy
        cloudwatch.set_alarm_state(AlarmName="errors", StateValue="ALARM", StateReason="again")
        assert not check.evaluate().healthy

    @pytest.mark.parametrize(("policy", "healthy"), [("ignore", True), ("fail", False)])
    def test_insufficient_data_policy(self, policy: str, healthy: bool) -> None:
        make_alarm("errors", "INSUFFICIENT_DATA")
        check = alarms(["errors"], insufficient_data=policy)
        check.start()
        assert check.evaluate().healthy is healthy

    def test_more_than_100_alarms_take_one_call_per_100(self) -> None:
        names = [f"alarm-{i:03d}" for i in range(150)]
        for name in names:
            make_alarm(name)
        check = alarms(names)
        calls: list[str] = []
        check.client.meta.events.register(  # type: ignore[union-attr]
            "before-call.cloudwatch.DescribeAlarms", lambda **kw: calls.append("call"))
        assert check.evaluate().healthy
        assert len(calls) == 2


@pytest.mark.usefixtures("aws_env")
def test_composite_alarm_in_alarm_rolls_back() -> None:
    check = alarms(["checkout-health"])
    assert check.client is not None
    expected = {"AlarmNames": ["checkout-health"],
                "AlarmTypes": ["CompositeAlarm", "MetricAlarm"], "MaxRecords": 100}
    with Stubber(check.client) as stubber:
        for state in ("OK", "ALARM"):
            stubber.add_response("describe_alarms", {
                "MetricAlarms": [],
                "CompositeAlarms": [{"AlarmName": "checkout-health", "StateValue": state}],
            }, expected)
        assert check.start().healthy
        result = check.evaluate()
    assert result.reason == "alarm checkout-health is in ALARM"
