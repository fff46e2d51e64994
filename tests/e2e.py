"""Helpers for end-to-end tests: the real `deployer` CLI as a subprocess against a
ThreadedMotoServer on 127.0.0.1 (one server per test module)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import ROOT


class Cli:
    def __init__(self, endpoint: str, tmp_path: Path) -> None:
        self.env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1",
                    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "DEPLOYER_STORE": f"file://{tmp_path / 'store'}"}
        self.env.pop("AWS_PROFILE", None)
        self.report = tmp_path / "report.json"

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "deployer", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env, cwd=ROOT)

    def rollout(self, plan: str, *args: str, scale: str = "20") -> subprocess.Popen[str]:
        return self.start("rollout", plan, "--time-scale", scale, "--report",
                          str(self.report), *args)

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        process = self.start(*args)
        out, err = process.communicate(timeout=timeout)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    def report_document(self) -> dict[str, Any]:
        return dict(json.loads(self.report.read_text()))


def wait_until(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def finish(process: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err




def subscribed_queue(endpoint: str, name: str
                     ) -> tuple[str, Callable[[], list[dict[str, Any]]]]:
    """An SNS topic with an SQS queue subscribed; the messages the queue has received."""
    from deployer.demo.world import client

    sns, sqs = client("sns", endpoint, "us-east-1"), client("sqs", endpoint, "us-east-1")
    topic = sns.create_topic(Name=name)["TopicArn"]
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})
    seen: list[dict[str, Any]] = []

    def messages() -> list[dict[str, Any]]:
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get(
                "Messages", []):
            seen.append(json.loads(message["Body"]))
        return seen

    return topic, messages
