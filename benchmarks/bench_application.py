"""A whole application (SPEC §8): 50 Lambda targets in one wave, linear 25% every 1m (4
shifts), poll 10s, one alarm per target, against a moto server at time-scale 60.

- wall time of the real CLI for 50 targets vs the same plan with one target
  (target <= 1.5x), at time-scale 20 (and 60, printed too);
- AWS calls of the 50-target run, counted with a botocore hook, vs the ideal: per shift
  one write and one read per target, per poll one DescribeAlarms per 100 alarms, and
  preflight (GetAlias and two GetFunctionConfiguration per target) (target <= 1.1x);
- the controller's peak RSS (target < 150 MB).
"""

from __future__ import annotations

import collections
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, counted_aws_calls
from deployer.core.settings import Settings
from deployer.demo.server import local_aws, use_fake_credentials
from deployer.demo.world import create_lambda_world
from deployer.logs import configure_logging
from deployer.plan.loader import load_plan
from deployer.runs.rollout import RolloutOptions, rollout

TARGETS = 50
SHIFTS, BAKES, BAKE_SECONDS, POLL = 4, 3, 60, 10
# The moto server answers one call at a time (one Python process), so the 50 targets'
# ~570 calls cost ~2.5 s whatever the pool; 20 gives 3 s bakes, 60 gives 1 s bakes.
SCALES = (20, 60)


def plan_text(name: str, worlds: list[tuple[str, str, str]]) -> str:
    lines = ["version: 1", f"name: {name}", "targets:"]
    lines += [f"  t{i}: {{lambda: {{function: {function}, alias: live, version: \"{version}\"}},"
              f" alarms: [{alarm}]}}" for i, (function, version, alarm) in enumerate(worlds)]
    lines += ["strategy: {linear: {step: 25, every: 1m}}", "checks: {poll_every: 10s}"]
    return "\n".join(lines) + "\n"


def worlds_for(endpoint: str, prefix: str, count: int) -> list[tuple[str, str, str]]:
    made = []
    for index in range(count):
        world = create_lambda_world(endpoint, function=f"{prefix}{index}",
                                    alarms=(f"{prefix}{index}-errors",))
        made.append((world.function, world.new, world.alarms[0]))
    return made


def cli_run(endpoint: str, plan: Path, folder: str, scale: int) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `deployer rollout` process. The peak is the
    kernel's VmHWM of the process itself, read while it runs: rusage's maxrss of a child
    also counts the memory of the (large) benchmark process it was forked from."""
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1"}
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "deployer", "rollout", str(plan), "--time-scale",
             str(scale), "--store", f"file://{folder}/store-{plan.stem}-{scale}"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors)
        peak = 0.0
        while process.poll() is None:
            peak = max(peak, _high_water_mb(process.pid))
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        if process.returncode != 0:
            errors.seek(0)
            raise RuntimeError(errors.read()[-2000:].decode("utf-8", "replace"))
    return elapsed, peak


def _high_water_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    found = [line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(found[0]) / 1024 if found else 0.0


def counted_calls(endpoint: str, plan: Path, folder: str) -> collections.Counter[str]:
    with counted_aws_calls() as calls:
        record = rollout(load_plan(str(plan)),
                         Settings(store=f"file://{folder}/store-calls", endpoint_url=endpoint,
                                  region="us-east-1"), RolloutOptions(time_scale=60))
    assert record is not None and record.outcome is not None
    assert record.outcome.value == "succeeded", record.reason
    return calls


def run() -> dict[str, float]:
    use_fake_credentials()
    configure_logging("json", verbosity=-2)
    with local_aws() as endpoint, tempfile.TemporaryDirectory() as folder:
        times = {}
        peak = 0.0
        for scale in SCALES:  # fresh functions each time: a released one has nothing to do
            one = Path(folder) / f"one{scale}.yaml"
            one.write_text(plan_text(f"one{scale}", worlds_for(endpoint, f"solo{scale}x", 1)))
            many = Path(folder) / f"many{scale}.yaml"
            many.write_text(plan_text(f"many{scale}",
                                      worlds_for(endpoint, f"fleet{scale}x", TARGETS)))
            single, _ = cli_run(endpoint, one, folder, scale)
            fifty, rss = cli_run(endpoint, many, folder, scale)
            peak = max(peak, rss)
            times[scale] = (single, fifty)
        again = Path(folder) / "again.yaml"
        again.write_text(plan_text("again", worlds_for(endpoint, "count", TARGETS)))
        calls = counted_calls(endpoint, again, folder)
    for scale, (single, fifty) in times.items():
        ratio = fifty / single
        verdict = "ok" if ratio <= 1.5 else "MISSED"
        print(f"  wall time at time-scale {scale} ({BAKES} bakes of {BAKE_SECONDS / scale:g} s): "
              f"1 target {single:.2f} s, {TARGETS} targets {fifty:.2f} s: {ratio:.2f}x "
              f"(target <= 1.5x: {verdict})")
    ratio = times[SCALES[0]][1] / times[SCALES[0]][0]
    polls = BAKES * BAKE_SECONDS // POLL
    ideal = (SHIFTS * 2 * TARGETS + polls * math.ceil(TARGETS / 100)
             + 3 * TARGETS + 1)
    total = sum(calls.values())
    print(f"  AWS calls: {total} vs ideal {ideal}: {total / ideal:.2f}x "
          f"(target <= 1.1x: {'ok' if total <= 1.1 * ideal else 'MISSED'}); "
          f"by operation: {dict(sorted(calls.items()))}")
    print(f"  controller peak RSS: {peak:.0f} MB "
          f"(target < 150 MB: {'ok' if peak < 150 else 'MISSED'})")
    return {"app_wall_ratio": ratio, "app_calls": total, "app_ideal": ideal, "app_rss_mb": peak}


if __name__ == "__main__":
    run()
