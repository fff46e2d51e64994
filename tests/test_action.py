"""The GitHub Action (action.yml at the repository root): its steps run as a runner
would run them (bash, inputs as the step's env, GITHUB_OUTPUT / GITHUB_PATH files),
against a ThreadedMotoServer on 127.0.0.1. The install step is only syntax-checked:
it installs from the package registry, which tests never reach; the rollout step
uses the deployer of this checkout instead (install: false)."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from deployer.demo.world import LambdaWorld, create_lambda_world
from tests.conftest import ROOT

NAMES = (f"gha{i}" for i in itertools.count())
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())


def expand(text: str, inputs: dict[str, str]) -> str:
    return re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: inputs[m.group(1)], text)


def run_action(inputs: dict[str, str], workspace: Path, endpoint: str) -> dict[str, str]:
    """Every step of the composite action in order; the action's outputs."""
    given = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    given.update(inputs)
    output, path_file = workspace / "github_output", workspace / "github_path"
    base = {**os.environ, "GITHUB_OUTPUT": str(output), "GITHUB_PATH": str(path_file),
            "RUNNER_TEMP": str(workspace / "tmp"), "GITHUB_ACTION_PATH": str(ROOT),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    steps: dict[str, str] = {}
    code = 0
    for step in ACTION["runs"]["steps"]:
        condition = step.get("if")
        if condition:  # the one form action.yml uses: inputs.NAME == 'VALUE'
            match = re.fullmatch(r"inputs\.([\w-]+) == '([^']*)'", condition)
            assert match, f"unsupported condition {condition!r}"
            if given[match.group(1)] != match.group(2):
                continue
        env = {**base, **{k: expand(str(v), given) for k, v in step.get("env", {}).items()}}
        result = subprocess.run(["bash", "-c", step["run"]], env=env, cwd=workspace,
                                capture_output=True, text=True, timeout=120, check=False)
        code = result.returncode
        if step.get("id"):
            steps[step["id"]] = result.stderr
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    declared = {name: expand(spec["value"].replace("steps.rollout.outputs.", "inputs."),
                             outputs) for name, spec in ACTION["outputs"].items()}
    return {**declared, "_exit": str(code), "_stderr": steps.get("rollout", "")}


@pytest.fixture
def world(endpoint: str) -> LambdaWorld:
    name = next(NAMES)
    return create_lambda_world(endpoint, function=name, alarms=(f"{name}-errors",))


@pytest.fixture
def workspace(tmp_path: Path, world: LambdaWorld) -> Path:
    (tmp_path / "tmp").mkdir()
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "plan.yaml").write_text(f"""\
version: 1
name: {world.function}
target:
  lambda: {{function: {world.function}, alias: live, version: "${{NEW_VERSION:-0}}"}}
strategy: {{canary: {{weight: 10, bake: 1m}}}}
checks: {{alarms: [{world.alarms[0]}], poll_every: 5s}}
""")
    return tmp_path


def test_the_action_rolls_out_and_exposes_run_id_and_outcome(
        endpoint: str, world: LambdaWorld, workspace: Path) -> None:
    outputs = run_action({"plan": "deploy/plan.yaml", "install": "false",
                          "set": f"target.lambda.version={world.new}\n"
                                 "  checks.poll_every=2s\n",
                          "store": f"file://{workspace}/runs",
                          "args": "--time-scale 30"}, workspace, endpoint)
    assert outputs["_exit"] == "0", outputs["_stderr"]
    assert outputs["outcome"] == "succeeded"
    assert outputs["exit-code"] == "0"
    assert outputs["run-id"].startswith(f"{world.function}-")
    assert (workspace / "runs" / "runs" / f"{outputs['run-id']}.json").is_file()
    assert (workspace / outputs["report"]).is_file()
    assert world.alias_state() == (world.new, {})


def test_a_refused_run_fails_the_step_with_its_outcome(endpoint: str, world: LambdaWorld,
                                                       workspace: Path) -> None:
    world.set_alarm(world.alarms[0], "ALARM")  # already_firing: block
    outputs = run_action({"plan": "deploy/plan.yaml", "install": "false",
                          "set": f"target.lambda.version={world.new}"}, workspace, endpoint)
    assert outputs["_exit"] == "5"
    assert (outputs["outcome"], outputs["exit-code"]) == ("refused", "5")
    assert outputs["run-id"]


def test_an_invalid_plan_is_exit_2_with_no_run(endpoint: str, workspace: Path) -> None:
    outputs = run_action({"plan": "deploy/plan.yaml", "install": "false",
                          "set": "strategy.canary.weight=0"}, workspace, endpoint)
    assert (outputs["_exit"], outputs["outcome"], outputs["run-id"]) == ("2", "invalid", "")


def test_every_step_is_valid_bash_and_installs_from_the_action_itself() -> None:
    steps: list[dict[str, Any]] = ACTION["runs"]["steps"]
    for step in steps:
        assert subprocess.run(["bash", "-n", "-c", step["run"]], check=False).returncode == 0
    install = steps[0]
    assert install["if"] == "inputs.install == 'true'"
    assert '"$GITHUB_ACTION_PATH"' in install["run"]
    assert "${{" not in steps[1]["run"]  # inputs only through env: no script injection
