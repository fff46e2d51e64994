"""Runs on Step Functions (SPEC §11): the worst-case history events and state
transitions of the presets (what a run costs), alarms only and with version-aware
analysis (SPEC §11b: on_inconclusive extend, its worst case), how long deployment
windows may hold a run (SPEC §14), and the wall time from `deployer
rollout --engine stepfunctions` to its exit 0 against a moto server that executes
state machines (target: under 2 s)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, summary
from deployer.demo.server import use_fake_credentials
from deployer.demo.world import create_lambda_world
from deployer.plan.loader import load_plan
from deployer.stepfunctions.history import HISTORY_LIMIT, hold_allowance, worst_case
from deployer.stepfunctions.windows import IDLE_HOLD_POLL
from strategies.presets import PRESETS
from tests.sfn_moto import machine_aws

ROLLOUTS = 10
PLAN = """\
version: 1
name: {name}
target: {{lambda: {{function: {name}, alias: live, version: "{version}"}}}}
strategy: {{{strategy}}}
checks: {{alarms: [{name}-errors], poll_every: {poll}{analysis}}}
"""
ANALYSIS = (", metrics: {error_rate: {max_vs_stable: 2x}, latency: {max_vs_stable: 1.5x}}, "
            "on_inconclusive: extend")


def _plan(folder: str, name: str, strategy: str, poll: str, version: str = "2",
          analysis: bool = False) -> str:
    path = Path(folder) / f"{name}.yaml"
    path.write_text(PLAN.format(name=name, strategy=strategy, poll=poll, version=version,
                                analysis=ANALYSIS if analysis else ""))
    return str(path)


def _history_table(folder: str) -> None:
    for analysis in (False, True):
        print(f"  worst case per run, {'with analysis' if analysis else 'alarms only'} "
              f"(history limit {HISTORY_LIMIT:,} events; $0.025 per 1,000 transitions)")
        for name in PRESETS:
            cells = []
            for poll in ("10s", "60s"):
                plan = load_plan(_plan(folder, "bench", f"preset: {name}", poll,
                                       analysis=analysis)).plan
                tally = worst_case(plan)
                over = " (over: refused)" if tally.events > HISTORY_LIMIT else ""
                cells.append(f"{poll}: {tally.events:6,} events {tally.transitions:5,} "
                             f"transitions ${tally.cost:.4f}{over}")
            print(f"  {name:38} " + "   ".join(cells))


def _hold_table(folder: str) -> None:
    """Deployment windows (SPEC §14): how long all of a run's holds may last within the
    history budget — at poll_every once traffic has moved, in 5-minute looks before."""
    print("  hold allowance with deployment windows (one change calendar), alarms only")
    for name in ("LambdaCanary10Percent5Minutes", "LambdaCanary10Percent30Minutes",
                 "LambdaLinear10PercentEvery10Minutes"):
        cells = []
        for poll in ("10s", "60s"):
            path = _plan(folder, "bench", f"preset: {name}", poll)
            Path(path).write_text(Path(path).read_text() +
                                  "windows: {change_calendars: [prod-freeze]}\n")
            plan = load_plan(path).plan
            polls = hold_allowance(plan)
            seconds = polls * plan.checks.poll_every
            cells.append(f"{poll}: {polls:5,} polls = {seconds / 3600:5.1f} h with traffic, "
                         f"{polls * IDLE_HOLD_POLL / 3600:5.0f} h before")
        print(f"  {name:38} " + "   ".join(cells))


def _rollout_wall_time(folder: str) -> list[float]:
    samples = []
    with machine_aws() as endpoint:
        env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1",
               "DEPLOYER_STORE": "dynamodb://bench-runs"}
        subprocess.run([sys.executable, "-m", "deployer", "store", "init",
                        "dynamodb://bench-runs"], check=True, capture_output=True, env=env,
                       cwd=ROOT)
        for index in range(ROLLOUTS + 1):  # the first warms moto's backends up
            name = f"sfnbench{index}"
            world = create_lambda_world(endpoint, function=name, alarms=(f"{name}-errors",))
            plan = _plan(folder, name, "canary: {weight: 10, bake: 1h}", "60s", world.new)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "deployer", "rollout", plan, "--engine",
                            "stepfunctions", "--role-arn",
                            "arn:aws:iam::123456789012:role/deployer-machine"],
                           check=True, capture_output=True, env=env, cwd=ROOT)
            if index:
                samples.append(time.perf_counter() - start)
    return samples


def run() -> dict[str, float]:
    use_fake_credentials()
    with tempfile.TemporaryDirectory() as folder:
        _history_table(folder)
        _hold_table(folder)
        samples = _rollout_wall_time(folder)
    verdict = "ok" if max(samples) < 2.0 else "MISSED"
    print(f"  rollout --engine stepfunctions -> exit 0 {summary(samples)}   "
          f"(target < 2 s: {verdict})")
    return {"rollout_seconds": max(samples)}


if __name__ == "__main__":
    run()
