"""SNS notifications on moto: JSON message, `event` attribute for filtering; a failing
topic never fails the run."""

from __future__ import annotations

import json

import boto3
import pytest
from structlog.testing import capture_logs

from deployer.aws import AwsContext
from deployer.core.record import RunRecord
from deployer.notify.sns import SnsNotifier

pytestmark = pytest.mark.usefixtures("moto_aws")


def record() -> RunRecord:
    return RunRecord(run_id="app-1", plan_name="app", target_key="k",
                     target={"kind": "lambda"}, plan={}, started_at="t")


def test_message_and_filterable_attribute() -> None:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="deploys")["TopicArn"]
    queue = sqs.create_queue(QueueName="ops")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"FilterPolicy": json.dumps({"event": ["rolled_back"]})})
    notifier = SnsNotifier(topic, AwsContext(region="us-east-1"))
    notifier.publish("started", record())
    notifier.publish("rolled_back", record())
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1  # the filter let only rolled_back through
    envelope = json.loads(messages[0]["Body"])
    body = json.loads(envelope["Message"])
    assert (body["event"], body["run_id"], body["plan_name"]) == ("rolled_back", "app-1", "app")
    assert envelope["MessageAttributes"]["event"]["Value"] == "rolled_back"


def test_a_failing_notification_is_logged_not_raised() -> None:
    notifier = SnsNotifier("arn:aws:sns:us-east-1:123456789012:missing",
                           AwsContext(region="us-east-1").with_budget(1, 1))
    with capture_logs() as logs:
        notifier.publish("succeeded", record())
    assert logs[-1]["event"] == "notification_failed"
    assert logs[-1]["notify_event"] == "succeeded"
