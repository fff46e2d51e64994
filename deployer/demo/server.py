"""Start moto's ThreadedMotoServer on 127.0.0.1 (a random port) as a local AWS."""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from deployer.errors import UsageError

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def use_fake_credentials(region: str = "us-east-1") -> None:
    """Never let a local-AWS session find real credentials."""
    os.environ.update(FAKE_CREDENTIALS)
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    os.environ.pop("AWS_PROFILE", None)


@contextmanager
def local_aws() -> Iterator[str]:
    """Yield the endpoint URL of a fresh moto server; stop it afterwards."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise UsageError("the demo runs against a local AWS (moto), which this install "
                         "leaves out (so does the container image, to stay small)",
                         hint="pip install 'deployer-aws[demo]', or from a checkout: make "
                              "demo (docs/ci.md)") from None
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    launch_no_task_set_tasks()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    configure(endpoint, {"lambda": {"use_docker": False}})
    try:
        yield endpoint
    finally:
        server.stop()


def configure(endpoint: str, config: dict[str, object]) -> None:
    _post(f"{endpoint}/moto-api/config", config)


def queue_lambda_results(endpoint: str, results: list[str], region: str) -> None:
    """Canned answers for the next Lambda invocations (moto runs no code)."""
    _post(f"{endpoint}/moto-api/static/lambda-simple/response",
          {"results": results, "region": region})


def _post(url: str, body: dict[str, object]) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def launch_no_task_set_tasks() -> None:
    """moto's CreateTaskSet starts tasks through RunTask, which crashes on awsvpc tasks
    (it reads a private DNS name its network interfaces lack). moto runs no task
    anyway (MOTO-NOTES): the task set is created without them."""
    from moto.ecs import models

    backend: Any = models.EC2ContainerServiceBackend
    if getattr(backend, "_deployer_quiet_task_sets", False):
        return
    original = backend.create_task_set

    def create_task_set(self: Any, *args: Any, **kwargs: Any) -> Any:
        run_task = self.run_task
        self.run_task = lambda *a, **k: []
        try:
            return original(self, *args, **kwargs)
        finally:
            self.run_task = run_task

    backend.create_task_set = create_task_set
    backend._deployer_quiet_task_sets = True
