"""Hooks: a Lambda function (ECS lifecycle-hook contract), an HTTP check, or a command.

Each hook runs in a worker thread while the controller keeps polling checks and
signals; `cancel` is set when the run must stop, and a command is then killed.
Output is kept, truncated, for the run record.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from botocore.exceptions import ClientError

from deployer.aws import AwsContext
from deployer.core.ports import Clock, HookResult
from deployer.hooks.answer import HookStatus, judge_hook_answer
from deployer.plan.model import HookSpec, HttpHookSpec

OUTPUT_LIMIT = 4096


def truncate(text: str, limit: int = OUTPUT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 20] + "\n…[truncated]"


class LambdaHook:
    """Invoke a function and judge its answer (deployer.hooks.answer); IN_PROGRESS
    re-invokes after callBackDelay until the hook's timeout."""

    def __init__(self, function: str, payload: dict[str, Any] | None, timeout: float,
                 aws: AwsContext, clock: Clock) -> None:
        self.name = f"lambda {function}"  # as HookSpec.label
        self.function = function
        self.payload = payload or {}
        self.timeout = timeout
        self.aws = aws
        self.clock = clock

    def run(self, context: dict[str, str], cancel: threading.Event) -> HookResult:
        client = self.aws.client("lambda")
        event = {**self.payload, "deployer": context}
        started = self.clock.now()
        while True:
            try:
                response = self.aws.call(client.invoke, FunctionName=self.function,
                                         InvocationType="RequestResponse",
                                         Payload=json.dumps(event).encode())
            except ClientError as exc:
                return HookResult(False, f"invoke failed: {exc}")
            body = response["Payload"].read().decode("utf-8", "replace")
            if response.get("FunctionError"):
                return HookResult(False, f"function error ({response['FunctionError']})",
                                  truncate(body))
            answer = judge_hook_answer(body)
            if answer.status == HookStatus.FAILED:
                return HookResult(False, answer.summary, truncate(body))
            if answer.status == HookStatus.SUCCEEDED:
                return HookResult(True, answer.summary, truncate(body))
            delay = answer.callback_delay
            if self.clock.now() - started + delay > self.timeout:
                return HookResult(False, f"still IN_PROGRESS after {self.timeout:g}s",
                                  truncate(body))
            self.clock.sleep(delay, cancel)
            if cancel.is_set():
                return HookResult(False, "cancelled")


class HttpHook:
    def __init__(self, spec: HttpHookSpec) -> None:
        self.name = f"http {spec.method} {spec.url}"
        self.spec = spec

    def run(self, context: dict[str, str], cancel: threading.Event) -> HookResult:
        headers = {"User-Agent": "deployer", **self.spec.headers,
                   "X-Deployer-Run-Id": context.get("DEPLOYER_RUN_ID", "")}
        data = json.dumps(context).encode() if self.spec.method == "POST" else None
        request = urllib.request.Request(self.spec.url, data=data, headers=headers,
                                         method=self.spec.method)
        try:
            with urllib.request.urlopen(request, timeout=self.spec.timeout) as response:
                status, body = response.status, response.read(OUTPUT_LIMIT)
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read(OUTPUT_LIMIT)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return HookResult(False, f"request failed: {getattr(exc, 'reason', exc)}")
        text = truncate(body.decode("utf-8", "replace"))
        if status != self.spec.expect:
            return HookResult(False, f"status {status}, expected {self.spec.expect}", text)
        return HookResult(True, f"status {status}", text)


class CommandHook:
    def __init__(self, argv: list[str], env: dict[str, str] | None, timeout: float) -> None:
        self.name = "command " + " ".join(argv)
        self.argv = argv
        self.env = env or {}
        self.timeout = timeout

    def run(self, context: dict[str, str], cancel: threading.Event) -> HookResult:
        try:
            process = subprocess.Popen(
                self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                env={**os.environ, **context, **self.env}, start_new_session=True,
            )
        except OSError as exc:
            return HookResult(False, f"cannot start {self.argv[0]}: {exc.strerror}")
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                output, _ = process.communicate(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if cancel.is_set() or time.monotonic() > deadline:
                    process.kill()
                    output, _ = process.communicate()
                    why = "cancelled" if cancel.is_set() else f"timed out after {self.timeout:g}s"
                    return HookResult(False, why, truncate(output or ""))
        text = truncate(output or "")
        if process.returncode != 0:
            return HookResult(False, f"exit status {process.returncode}", text)
        return HookResult(True, "exit status 0", text)


def build_hook(spec: HookSpec, aws: AwsContext | None, clock: Clock) -> LambdaHook | HttpHook \
        | CommandHook:
    if spec.lambda_ is not None:
        if aws is None:
            raise ValueError("a lambda hook needs AWS access")
        return LambdaHook(spec.lambda_, spec.payload, spec.effective_timeout, aws, clock)
    if spec.http is not None:
        return HttpHook(spec.http)
    assert spec.command is not None
    return CommandHook(list(spec.command), spec.env, spec.effective_timeout)
