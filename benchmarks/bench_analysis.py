"""Version-aware analysis (SPEC §7):

- detection: bad per-version data becomes visible -> the alias back on stable, through
  the real CLI against a moto server, poll_every 5s at time-scale 5 (a 1 s poll), 20
  runs, no alarm at all. Target: p95 <= one poll + 0.5 s.
- economy: GetMetricData calls per poll for 1..250 metric pairs (a metric of both
  versions = 2 queries). Target: 1 call up to 250 pairs.
- sensitivity (no AWS): canary weights 1/5/10/25%, canary error rates 2/5/20/100% over
  a stable 1%, 1000 requests a minute, one 5-minute window; how often an all-traffic
  5%-error alarm fires and how often analysis (error_rate max_vs_stable 2x,
  min_requests 50) fails the canary; and the false-positive rate of an equal-rate canary
  over 10,000 simulated windows.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.common import ROOT, percentile, summary, wait_for
from deployer.checks.verdict import Sample, Verdict, judge_error_rate
from deployer.demo.server import local_aws, use_fake_credentials
from deployer.demo.world import LambdaWorld, client, create_lambda_world

RUNS = 20
POLL_REAL = 1.0
PLAN = """\
version: 1
name: {name}
target:
  lambda: {{function: {name}, alias: live, version: "{version}"}}
strategy:
  canary: {{weight: 10, bake: 1h}}
checks:
  poll_every: 5s
  metrics: {{error_rate: {{max_vs_stable: 2x}}}}
"""
WEIGHTS = (1, 5, 10, 25)
CANARY_RATES = (2, 5, 20, 100)
STABLE_RATE = 1.0
PER_MINUTE = 1000
WINDOW_MINUTES = 5
SIMULATED = 2000
FALSE_POSITIVE_WINDOWS = 10_000


def _put(world: LambdaWorld, version: str, requests: int, errors: int) -> None:
    at = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    dimensions = [{"Name": "FunctionName", "Value": world.function},
                  {"Name": "Resource", "Value": f"{world.function}:live"},
                  {"Name": "ExecutedVersion", "Value": version}]
    client("cloudwatch", world.endpoint, world.region).put_metric_data(
        Namespace="AWS/Lambda", MetricData=[
            {"MetricName": name, "Timestamp": at, "Value": value, "Dimensions": dimensions}
            for name, value in (("Invocations", requests), ("Errors", errors))])


def one_run(endpoint: str, world: LambdaWorld, folder: Path) -> float:
    plan = folder / f"{world.function}.yaml"
    plan.write_text(PLAN.format(name=world.function, version=world.new))
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": world.region}
    process = subprocess.Popen(
        [sys.executable, "-m", "deployer", "rollout", str(plan), "--time-scale", "5",
         "--store", f"file://{folder / 'store'}"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: world.alias_state()[1] != {})
        time.sleep(random.Random(world.function).uniform(0.2, 0.2 + POLL_REAL))
        _put(world, world.stable, 1000, 10)
        _put(world, world.new, 110, 33)
        visible = time.monotonic()
        restored = wait_for(lambda: world.alias_state() == (world.stable, {}))
        process.wait(timeout=30)
        return restored - visible
    finally:
        if process.poll() is None:
            process.kill()


def detection() -> float:
    samples = []
    with local_aws() as endpoint, tempfile.TemporaryDirectory() as folder:
        for index in range(RUNS):
            world = create_lambda_world(endpoint, function=f"judge{index}", alarms=())
            samples.append(one_run(endpoint, world, Path(folder)))
    p95 = percentile(samples, 0.95)
    target = POLL_REAL + 0.5
    print(f"  bad data visible -> alias restored  {summary(samples)}")
    print(f"  p95 {p95:.2f} s vs target {target:.2f} s: {'ok' if p95 <= target else 'MISSED'}")
    return p95


def economy() -> None:
    from moto import mock_aws

    from deployer.aws import AwsContext
    from deployer.checks.analysis import MetricReader, window_ending
    from deployer.core.ports import MetricSeries

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        reader = MetricReader(AwsContext(region="us-east-1"), errors=True, latency=False)
        for pairs in (1, 50, 125, 250, 251, 500):
            # error_rate reads 2 metrics a version: requests and errors = 2 pairs a target
            series = [MetricSeries(f"v{i}", {}, "AWS/Lambda", (("FunctionName", f"f{i}"),),
                                   "Invocations", "Errors", "Duration")
                      for i in range(pairs)]
            before = reader.calls
            reader.read(series, window_ending(datetime.now(UTC), 300))
            calls = reader.calls - before
            print(f"  {pairs:>4} metric pairs ({2 * pairs:>4} queries): {calls} GetMetricData "
                  f"call{'s' if calls > 1 else ''} per poll")


def sensitivity() -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    total = PER_MINUTE * WINDOW_MINUTES
    header = "  canary weight | " + " | ".join(f"canary {r}% errors" for r in CANARY_RATES)
    print(header)
    print("  " + "-" * (len(header) - 2))
    for weight in WEIGHTS:
        n_new = round(total * weight / 100)
        n_old = total - n_new
        cells = []
        for rate in CANARY_RATES:
            errors_new = rng.binomial(n_new, rate / 100, SIMULATED)
            errors_old = rng.binomial(n_old, STABLE_RATE / 100, SIMULATED)
            alarm = np.mean((errors_new + errors_old) / total > 0.05)
            analysis = np.mean([_fails(int(e), n_new, int(o), n_old)
                                for e, o in zip(errors_new, errors_old, strict=True)])
            cells.append(f"alarm {alarm:4.0%} / analysis {analysis:4.0%}")
        print(f"  {weight:>3}% ({n_new:>4} req) | " + " | ".join(cells))
    print(f"  (stable {STABLE_RATE:g}% errors; {PER_MINUTE} requests/min; one "
          f"{WINDOW_MINUTES}-minute window; share of {SIMULATED} simulated windows that fail)")
    for weight in WEIGHTS:
        n_new = round(total * weight / 100)
        n_old = total - n_new
        errors_new = rng.binomial(n_new, STABLE_RATE / 100, FALSE_POSITIVE_WINDOWS)
        errors_old = rng.binomial(n_old, STABLE_RATE / 100, FALSE_POSITIVE_WINDOWS)
        false = sum(_fails(int(e), n_new, int(o), n_old)
                    for e, o in zip(errors_new, errors_old, strict=True))
        print(f"  equal-rate canary at {weight:>2}%: {false} false failures in "
              f"{FALSE_POSITIVE_WINDOWS} windows ({false / FALSE_POSITIVE_WINDOWS:.2%})")


def _fails(errors_new: int, n_new: int, errors_old: int, n_old: int) -> bool:
    judged = judge_error_rate(Sample(n_new, errors_new), Sample(n_old, errors_old),
                              max_rate=None, max_ratio=2.0, min_requests=50, at_full=False)
    return judged.verdict == Verdict.FAIL


def run() -> dict[str, float]:
    use_fake_credentials()
    p95 = detection()
    economy()
    sensitivity()
    return {"analysis_detection_p95_s": p95}


if __name__ == "__main__":
    run()
