"""One release across regions and accounts (SPEC §13): six Lambda targets in three
regions of two accounts (one wave per region, each with both accounts' targets) vs
the same six targets in one region of one account, same plan otherwise (canary 10%,
1-minute bakes, one alarm per target, poll 10s), through the real CLI against a moto
server at time-scale 60. Goal: the regions' wall time <= 1.2x the one region's."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from benchmarks.bench_application import cli_run
from deployer.demo.server import local_aws, use_fake_credentials
from deployer.demo.world import create_lambda_world

OTHER = "arn:aws:iam::222233334444:role/deployer-target"
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
SCALE = 60
ROUNDS = 3


def _plan(folder: str, name: str, endpoint: str, spread: bool) -> Path:
    lines = ["version: 1", f"name: {name}", "region: us-east-1", "targets:"]
    waves = []
    for index, region in enumerate(REGIONS):
        wave = []
        for account, role in (("a", None), ("b", OTHER)):
            key = f"{account}{index}"
            where = region if spread else "us-east-1"
            function = f"{name}-{key}"
            world = create_lambda_world(endpoint, where, function=function,
                                        alarms=(f"{function}-errors",),
                                        role_arn=role if spread else None)
            extra = f", region: {where}" + (f", role_arn: \"{role}\"" if spread and role
                                            else "")
            lines.append(f"  {key}: {{lambda: {{function: {function}, alias: live, version: "
                         f"\"{world.new}\"}}{extra}, alarms: [{function}-errors]}}")
            wave.append(key)
        waves.append(f"[{', '.join(wave)}]")
    lines += [f"waves: [{', '.join(waves)}]", "strategy: {canary: {weight: 10, bake: 1m}}",
              "checks: {poll_every: 10s}"]
    path = Path(folder) / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run() -> dict[str, float]:
    use_fake_credentials()
    spread_times, one_times = [], []
    with tempfile.TemporaryDirectory() as folder, local_aws() as endpoint:
        for index in range(ROUNDS + 1):  # the first warms moto's backends up
            spread, _ = cli_run(endpoint, _plan(folder, f"rg{index}", endpoint, True),
                                folder, SCALE)
            one, _ = cli_run(endpoint, _plan(folder, f"one{index}", endpoint, False),
                             folder, SCALE)
            if index:
                spread_times.append(spread)
                one_times.append(one)
    spread_median, one_median = statistics.median(spread_times), statistics.median(one_times)
    ratio = spread_median / one_median
    verdict = "ok" if ratio <= 1.2 else "MISSED"
    print(f"  3 regions x 2 accounts: {spread_median:.2f} s, one region: {one_median:.2f} s "
          f"(medians of {ROUNDS}) -> {ratio:.2f}x (goal <= 1.2x: {verdict})")
    return {"regions_ratio": ratio}


if __name__ == "__main__":
    run()
