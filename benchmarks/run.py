"""`make bench`: every benchmark in one run, printing its figures."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import (
    bench_analysis,
    bench_api_calls,
    bench_application,
    bench_reaction,
    bench_regions,
    bench_resources,
    bench_stepfunctions,
    bench_store,
    bench_validate,
)

SUITES = [
    ("validate start-up", bench_validate.run),
    ("reaction: alarm -> traffic restored", bench_reaction.run),
    ("analysis: detection, economy, sensitivity", bench_analysis.run),
    ("API economy", bench_api_calls.run),
    ("whole application: 50 targets in one wave", bench_application.run),
    ("regions and accounts: 3 regions x 2 accounts vs one region", bench_regions.run),
    ("controller resources during a 1-hour bake", bench_resources.run),
    ("store write latency", bench_store.run),
    ("runs on Step Functions: history, cost, rollout wall time", bench_stepfunctions.run),
]


def main() -> None:
    for title, run in SUITES:
        print(f"== {title}")
        run()


if __name__ == "__main__":
    main()
