"""Controller resource use during a 1-hour bake at time-scale 60 (one real minute),
through the real CLI against a moto server: CPU time and peak RSS from /proc.
Targets: < 1% of a core between polls (at the plan's own pace), < 120 MB RSS."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT
from deployer.demo.server import local_aws, use_fake_credentials
from deployer.demo.world import create_lambda_world

TIME_SCALE = 60
BAKE_SECONDS = 3600
POLL_SECONDS = 10
PLAN = """\
version: 1
name: soakbake
target:
  lambda: {{function: soakbake, alias: live, version: "{version}"}}
strategy:
  canary: {{weight: 10, bake: 1h}}
checks: {{alarms: [a1, a2, a3], poll_every: {poll}s}}
"""
TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run() -> dict[str, float]:
    use_fake_credentials()
    with local_aws() as endpoint, tempfile.TemporaryDirectory() as folder:
        world = create_lambda_world(endpoint, function="soakbake", alarms=("a1", "a2", "a3"))
        plan = Path(folder) / "plan.yaml"
        plan.write_text(PLAN.format(version=world.new, poll=POLL_SECONDS))
        env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": world.region}
        process = subprocess.Popen(
            [sys.executable, "-m", "deployer", "rollout", str(plan), "--time-scale",
             str(TIME_SCALE), "--store", f"file://{folder}/store"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pid = process.pid
        started = time.monotonic()
        while world.alias_state()[1] == {}:  # start-up and preflight are not the bake
            time.sleep(0.05)
        cpu_at_bake, wall_at_bake = _cpu_seconds(pid), time.monotonic()
        peak = 0.0
        while process.poll() is None:
            try:
                peak = max(peak, _peak_rss_mb(pid))
                cpu_last, wall_last = _cpu_seconds(pid), time.monotonic()
            except (FileNotFoundError, ProcessLookupError):
                break
            time.sleep(0.5)
        process.wait()
    bake_cpu = cpu_last - cpu_at_bake
    bake_wall = wall_last - wall_at_bake
    polls = BAKE_SECONDS / POLL_SECONDS
    per_poll_ms = bake_cpu / polls * 1000
    at_plan_pace = per_poll_ms / 1000 / POLL_SECONDS * 100
    print(f"  1h bake at time-scale {TIME_SCALE}: {bake_wall:.1f} s wall, {bake_cpu:.2f} s CPU "
          f"({bake_cpu / bake_wall * 100:.1f}% of a core at 60x speed); total run "
          f"{time.monotonic() - started:.1f} s")
    print(f"  CPU per poll (3 alarms + store): {per_poll_ms:.1f} ms -> at the plan's own pace "
          f"(one poll per {POLL_SECONDS} s): {at_plan_pace:.3f}% of a core "
          f"(target < 1%: {'ok' if at_plan_pace < 1 else 'MISSED'})")
    print(f"  peak RSS {peak:.1f} MB (target < 120 MB: {'ok' if peak < 120 else 'MISSED'})")
    return {"cpu_per_poll_ms": per_poll_ms, "peak_rss_mb": peak}


if __name__ == "__main__":
    run()
