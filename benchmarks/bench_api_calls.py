"""API economy: AWS calls for LambdaLinear10PercentEvery1Minute with 3 alarms, poll 10s,
time-scale 60, counted with a botocore event hook, next to the ideal
(10 shifts + 10 read-backs + one poll per 10 s of bake + preflight). Target <= 1.25x."""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.common import counted_aws_calls
from deployer.core.settings import Settings
from deployer.demo.server import local_aws, use_fake_credentials
from deployer.demo.world import create_lambda_world
from deployer.logs import configure_logging
from deployer.plan.loader import load_plan
from deployer.runs.rollout import RolloutOptions, rollout

PLAN = """\
version: 1
name: economy
target:
  lambda: {{function: economy, alias: live, version: "{version}"}}
strategy:
  preset: LambdaLinear10PercentEvery1Minute
checks: {{alarms: [a1, a2, a3], poll_every: 10s}}
"""
PREFLIGHT_IDEAL = 4  # GetAlias, two GetFunctionConfiguration (role/DLQ), DescribeAlarms


def run() -> dict[str, float]:
    use_fake_credentials()
    configure_logging("json", verbosity=-2)  # warnings only: figures, not event lines
    with local_aws() as endpoint, tempfile.TemporaryDirectory() as folder:
        world = create_lambda_world(endpoint, function="economy", alarms=("a1", "a2", "a3"))
        plan = Path(folder) / "plan.yaml"
        plan.write_text(PLAN.format(version=world.new))
        with counted_aws_calls() as calls:
            record = rollout(load_plan(str(plan)),
                             Settings(store=f"file://{folder}/store", endpoint_url=endpoint,
                                      region=world.region),
                             RolloutOptions(time_scale=60))
    assert record is not None and record.outcome is not None
    total = sum(calls.values())
    ideal = 10 + 10 + (9 * 60) // 10 + PREFLIGHT_IDEAL
    ratio = total / ideal
    print(f"  outcome {record.outcome.value}; calls by operation: {dict(sorted(calls.items()))}")
    print(f"  {total} AWS calls vs ideal {ideal}: {ratio:.2f}x "
          f"(target <= 1.25x: {'ok' if ratio <= 1.25 else 'MISSED'})")
    return {"api_calls": total, "api_ideal": ideal}


if __name__ == "__main__":
    run()
