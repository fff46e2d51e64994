"""Hooks: lambda (moto's simple backend, which runs no code: canned answers are queued;
Stubber for FunctionError), http (a real server on 127.0.0.1), command (real processes)."""

from __future__ import annotations

import http.server
import json
import sys
import threading
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from deployer.aws import AwsContext
from deployer.demo.world import create_lambda_world
from deployer.hooks.kinds import CommandHook, HttpHook, LambdaHook, build_hook
from deployer.plan.model import HookSpec, HttpHookSpec
from tests.conftest import queue_lambda_answers
from tests.fakes import FakeClock

CONTEXT = {"DEPLOYER_RUN_ID": "app-1", "DEPLOYER_NEW_VERSION": "2"}


class TestLambdaHook:
    @pytest.fixture(autouse=True)
    def function(self, moto_aws: None) -> None:
        create_lambda_world(None, function="smoke", alarms=())  # type: ignore[arg-type]

    def hook(self, clock: FakeClock | None = None, timeout: float = 3600) -> LambdaHook:
        return LambdaHook("smoke", {"suite": "fast"}, timeout, AwsContext(),
                          clock or FakeClock())

    def test_an_answer_without_hook_status_fails_closed_quoting_it(self) -> None:
        result = self.hook().run(CONTEXT, threading.Event())
        assert not result.succeeded
        echoed = json.loads(result.output)  # the simple backend echoes the event it got
        assert echoed == {"suite": "fast", "deployer": CONTEXT}
        assert result.summary.startswith("answer has no hookStatus: {")

    @pytest.mark.parametrize(("answer", "succeeded"), [
        ({"hookStatus": "Succeeded"}, True), ({"hookStatus": "Failed"}, False),
        ({}, True), ({"hookStatus": "DONE"}, False)])
    def test_codedeploy_spellings_and_unknown_answers(self, answer: dict[str, Any],
                                                      succeeded: bool) -> None:
        queue_lambda_answers(answer)
        assert self.hook().run(CONTEXT, threading.Event()).succeeded is succeeded

    def test_in_progress_is_called_again_after_the_callback_delay(self) -> None:
        queue_lambda_answers({"hookStatus": "IN_PROGRESS", "callBackDelay": 15},
              {"hookStatus": "IN_PROGRESS"}, {"hookStatus": "SUCCEEDED"})
        clock = FakeClock()
        result = self.hook(clock).run(CONTEXT, threading.Event())
        assert result.succeeded
        assert result.summary == "hookStatus SUCCEEDED"
        assert clock.sleeps == [15, 30]

    def test_failed_status_fails(self) -> None:
        queue_lambda_answers({"hookStatus": "FAILED"})
        result = self.hook().run(CONTEXT, threading.Event())
        assert not result.succeeded
        assert result.summary == "hookStatus FAILED"
        assert result.output == '{"hookStatus": "FAILED"}'

    def test_in_progress_past_the_timeout_fails(self) -> None:
        queue_lambda_answers(*[{"hookStatus": "IN_PROGRESS", "callBackDelay": 60}] * 5)
        result = self.hook(timeout=150).run(CONTEXT, threading.Event())
        assert not result.succeeded
        assert result.summary == "still IN_PROGRESS after 150s"


@pytest.mark.usefixtures("aws_env")
def test_function_error_fails_the_lambda_hook() -> None:
    hook = LambdaHook("smoke", None, 60, AwsContext(region="us-east-1"), FakeClock())
    client = hook.aws.client("lambda")
    body = b'{"errorMessage": "boom"}'
    with Stubber(client) as stubber:
        stubber.add_response("invoke", {"StatusCode": 200, "FunctionError": "Unhandled",
                                        "Payload": StreamingBody(BytesIO(body), len(body))})
        result = hook.run(CONTEXT, threading.Event())
    assert not result.succeeded
    assert result.summary == "function error (Unhandled)"
    assert "boom" in result.output


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = int(self.path.strip("/") or 200)
        self.send_response(status)
        self.end_headers()
        self.wfile.write(f"run {self.headers.get('X-Deployer-Run-Id')}".encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize(("path", "expect", "succeeded"), [
    ("/200", 200, True), ("/503", 200, False), ("/404", 404, True)])
def test_http_hook(http_server: str, path: str, expect: int, succeeded: bool) -> None:
    hook = HttpHook(HttpHookSpec(url=http_server + path, expect=expect))
    result = hook.run(CONTEXT, threading.Event())
    assert result.succeeded is succeeded
    assert result.output == "run app-1"


def test_http_hook_connection_refused() -> None:
    result = HttpHook(HttpHookSpec(url="http://127.0.0.1:9/", timeout=2)).run(
        CONTEXT, threading.Event())
    assert not result.succeeded
    assert result.summary.startswith("request failed")


def test_command_hook_sees_the_context_and_its_env() -> None:
    hook = CommandHook([sys.executable, "-c", "import os; print(os.environ['DEPLOYER_RUN_ID'],"
                        " os.environ['STAGE_NAME'])"], {"STAGE_NAME": "prod"}, 30)
    result = hook.run(CONTEXT, threading.Event())
    assert result.succeeded
    assert result.output.strip() == "app-1 prod"


def test_command_hook_failure_keeps_output_truncated() -> None:
    hook = CommandHook([sys.executable, "-c", "print('x' * 10000); raise SystemExit(3)"],
                       None, 30)
    result = hook.run(CONTEXT, threading.Event())
    assert not result.succeeded
    assert result.summary == "exit status 3"
    assert len(result.output) <= 4096
    assert result.output.endswith("[truncated]")


def test_command_hook_timeout_and_cancel_kill_it() -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(30)"]
    assert CommandHook(sleeper, None, 0.5).run(CONTEXT, threading.Event()).summary == \
        "timed out after 0.5s"
    cancel = threading.Event()
    cancel.set()
    assert CommandHook(sleeper, None, 30).run(CONTEXT, cancel).summary == "cancelled"


def test_missing_command() -> None:
    result = CommandHook(["/no/such/tool"], None, 5).run(CONTEXT, threading.Event())
    assert not result.succeeded
    assert result.summary.startswith("cannot start /no/such/tool")


def test_build_hook_defaults() -> None:
    command = build_hook(HookSpec.model_validate({"command": "./smoke.sh --fast"}), None,
                         FakeClock())
    assert isinstance(command, CommandHook)
    assert command.argv == ["./smoke.sh", "--fast"]
    assert command.timeout == 300


@pytest.mark.usefixtures("aws_env")
@pytest.mark.parametrize("spec", [
    {"lambda": "smoke"}, {"command": ["./smoke.sh", "--fast"]},
    {"http": {"url": "https://x.example/health", "method": "HEAD"}}])
def test_runs_and_plans_name_a_hook_alike(spec: dict[str, Any]) -> None:
    validated = HookSpec.model_validate(spec)
    hook = build_hook(validated, AwsContext(region="us-east-1"), FakeClock())
    assert hook.name == validated.label
