"""Reaction time: an alarm set to ALARM -> the alias back on stable, through the real CLI
against a moto server; poll_every 5s at time-scale 5 (a 1 s poll), 20 runs.
Target: p95 <= one poll + 0.5 s."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, percentile, summary, wait_for
from deployer.demo.server import local_aws, use_fake_credentials
from deployer.demo.world import LambdaWorld, create_lambda_world

RUNS = 20
POLL_REAL = 1.0
PLAN = """\
version: 1
name: {name}
target:
  lambda: {{function: {name}, alias: live, version: "{version}"}}
strategy:
  canary: {{weight: 10, bake: 1h}}
checks: {{alarms: [{alarm}], poll_every: 5s}}
"""


def one_run(endpoint: str, world: LambdaWorld, folder: Path) -> float:
    plan = folder / f"{world.function}.yaml"
    plan.write_text(PLAN.format(name=world.function, version=world.new, alarm=world.alarms[0]))
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": world.region}
    process = subprocess.Popen(
        [sys.executable, "-m", "deployer", "rollout", str(plan), "--time-scale", "5",
         "--store", f"file://{folder / 'store'}"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: world.alias_state()[1] != {})
        # Fire at a random moment within the poll cycle, so the figure covers every phase.
        time.sleep(random.Random(world.function).uniform(0.2, 0.2 + POLL_REAL))
        fired = time.monotonic()
        world.set_alarm(world.alarms[0], "ALARM")
        restored = wait_for(lambda: world.alias_state() == (world.stable, {}))
        process.wait(timeout=30)
        return restored - fired
    finally:
        if process.poll() is None:
            process.kill()


def run() -> dict[str, float]:
    use_fake_credentials()
    samples = []
    with local_aws() as endpoint, tempfile.TemporaryDirectory() as folder:
        for index in range(RUNS):
            world = create_lambda_world(endpoint, function=f"react{index}",
                                        alarms=(f"react{index}-errors",))
            samples.append(one_run(endpoint, world, Path(folder)))
    p95 = percentile(samples, 0.95)
    target = POLL_REAL + 0.5
    print(f"  alarm -> alias restored  {summary(samples)}")
    print(f"  p95 {p95:.2f} s vs target {target:.2f} s: {'ok' if p95 <= target else 'MISSED'}")
    return {"reaction_p95_s": p95}


if __name__ == "__main__":
    run()
