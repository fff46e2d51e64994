"""Shared fixtures: plan text helpers and the real CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.e2e import Cli

ROOT = Path(__file__).resolve().parents[1]

MINIMAL_LAMBDA_PLAN = """\
version: 1
name: checkout-api
target:
  lambda:
    function: checkout-api
    alias: live
    version: "42"
checks: {alarms: [checkout-api-errors]}
strategy:
  canary: {weight: 10, bake: 5m}
"""


@pytest.fixture
def write_plan(tmp_path: Path) -> Callable[[str], str]:
    counter = iter(range(1_000_000))

    def write(text: str | bytes, name: str | None = None) -> str:
        path = tmp_path / (name or f"plan{next(counter)}.yaml")
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return str(path)

    return write


def run_cli(*args: str, env: dict[str, str] | None = None,
            cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the real `deployer` entry point in a fresh interpreter."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("AWS_ENDPOINT_URL", None) if env is None or "AWS_ENDPOINT_URL" not in env else None
    return subprocess.run(
        [sys.executable, "-m", "deployer", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd or ROOT, timeout=timeout,
        check=False,
    )


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region, so nothing can reach a real account."""
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def moto_aws(aws_env: None) -> Iterator[None]:
    """moto in-process, Lambda's simple (no Docker) backend."""
    from moto import mock_aws

    from deployer.demo.server import launch_no_task_set_tasks

    launch_no_task_set_tasks()
    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield


# ---------------------------------------------------------------- end to end (tests/e2e.py)

@contextmanager
def fake_credentials() -> Iterator[None]:
    """This process's boto3 clients (fixtures building worlds) sign with fake keys."""
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A ThreadedMotoServer on 127.0.0.1 for the module's tests."""
    from deployer.demo.server import local_aws

    with fake_credentials(), local_aws() as url:
        yield url


@pytest.fixture
def cli(endpoint: str, tmp_path: Path) -> Cli:
    from tests.e2e import Cli

    return Cli(endpoint, tmp_path)




def queue_lambda_answers(*answers: object) -> None:
    """moto runs no Lambda code: its simple backend echoes the event, or returns these
    canned answers in order (in this process, so also for a ThreadedMotoServer here)."""
    import json

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.moto_api._internal import moto_api_backend

    for answer in answers:
        moto_api_backend.set_lambda_simple_result(json.dumps(answer), DEFAULT_ACCOUNT_ID,
                                                  "us-east-1")
