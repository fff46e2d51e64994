"""Small helpers shared by the benchmarks: timing whole commands and summarising."""

from __future__ import annotations

import collections
import contextlib
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def time_commands(commands: Sequence[Sequence[str]], runs: int) -> list[list[float]]:
    """Wall seconds of `runs` fresh processes of each command, interleaved so that
    machine noise falls on all of them alike (one warm-up run each first)."""
    for argv in commands:
        subprocess.run(argv, check=True, capture_output=True, cwd=ROOT)
    samples: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for argv, bucket in zip(commands, samples, strict=True):
            start = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True, cwd=ROOT)
            bucket.append(time.perf_counter() - start)
    return samples


def precompile() -> None:
    """Byte-compile the project as an installed wheel would be (PYTHONDONTWRITEBYTECODE
    machines otherwise recompile every module on every start)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "deployer", "strategies"],
                   check=True, cwd=ROOT)


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(samples: Sequence[float]) -> str:
    return (f"median {statistics.median(samples) * 1000:7.1f} ms   "
            f"p95 {percentile(samples, 0.95) * 1000:7.1f} ms   n={len(samples)}")


PYTHON = sys.executable


@contextlib.contextmanager
def counted_aws_calls() -> Iterator[collections.Counter[str]]:
    """Every AWS call made by boto3 clients created inside the block, by operation."""
    import boto3

    calls: collections.Counter[str] = collections.Counter()

    def count(event_name: str, **_: object) -> None:
        calls[event_name.rsplit(".", maxsplit=1)[-1]] += 1

    original = boto3.Session.client

    def counted_client(self: boto3.Session, *args: object, **kwargs: object) -> object:
        client = original(self, *args, **kwargs)  # type: ignore[call-overload]
        client.meta.events.register("before-call", count)
        return client

    boto3.Session.client = counted_client  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        boto3.Session.client = original  # type: ignore[method-assign]


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> float:
    """The monotonic time `condition` first holds (polled every 5 ms); RuntimeError past
    `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.005)
    raise RuntimeError("timed out")
