"""`deployer validate` start-up against `python -c "import boto3"` (target: validate is faster)."""

from __future__ import annotations

import statistics
from pathlib import Path

from benchmarks.common import PYTHON, ROOT, precompile, summary, time_commands

RUNS = 20
FLOOR = ("import click, yaml\nfrom pydantic import BaseModel\n"
         "class M(BaseModel):\n    a: int\nM.model_validate({'a': 1})")


def run() -> dict[str, float]:
    example = str(ROOT / "configs" / "lambda-canary.yaml")
    precompile()
    console_script = str(Path(PYTHON).with_name("deployer"))
    validate, boto3, floor = time_commands(
        [[console_script, "validate", example], [PYTHON, "-c", "import boto3"],
         [PYTHON, "-c", FLOOR]], RUNS
    )
    print(f"  deployer validate        {summary(validate)}")
    print(f"  python -c 'import boto3' {summary(boto3)}")
    print(f"  click+pydantic+yaml only {summary(floor)}  (the floor any validate has here)")
    ratio = statistics.median(validate) / statistics.median(boto3)
    verdict = "ok" if ratio < 1 else "MISSED"
    print(f"  validate / import boto3 = {ratio:.2f} (target < 1.00: {verdict})")
    return {"validate_median_s": statistics.median(validate),
            "boto3_median_s": statistics.median(boto3)}


if __name__ == "__main__":
    run()
