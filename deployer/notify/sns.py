"""SNS notifications: one JSON message per run event, with an `event` message
attribute so subscribers can filter (started, approval_requested, promoted,
succeeded, rolled_back, aborted, failed, refused). A failing notification is
logged and never fails the run."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from deployer.aws import AwsContext
from deployer.core.clock import iso
from deployer.core.record import RunRecord
from deployer.logs import get_logger


class SnsNotifier:
    def __init__(self, topic_arn: str, aws: AwsContext) -> None:
        self.topic_arn = topic_arn
        self.aws = aws
        self.log = get_logger()

    def publish(self, event: str, record: RunRecord) -> None:
        message = {
            "event": event, "run_id": record.run_id, "plan_name": record.plan_name,
            "phase": record.phase.value,
            "outcome": record.outcome.value if record.outcome else None,
            "reason": record.reason, "weight": record.weight, "target": record.target,
            "at": iso(datetime.now(UTC)),
        }
        if record.window_override:  # a break-glass release says so in every message
            message["window_override"] = record.window_override
        try:
            self.aws.call(
                self.aws.client("sns").publish, TopicArn=self.topic_arn,
                Subject=f"deployer {record.plan_name}: {event}"[:100],
                Message=json.dumps(message),
                MessageAttributes={
                    "event": {"DataType": "String", "StringValue": event},
                    "plan_name": {"DataType": "String", "StringValue": record.plan_name},
                })
        except Exception as exc:  # a notification must never decide a release
            self.log.warning("notification_failed", notify_event=event, error=str(exc)[:300])
