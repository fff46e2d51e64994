"""Operators across processes, through the real CLI against a ThreadedMotoServer, for
both stores: approvals, aborts, timeouts, a second controller, a killed controller
resumed, and the emergency rollback."""

from __future__ import annotations

import itertools
import json
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from deployer.demo.world import LambdaWorld, create_lambda_world
from tests.e2e import Cli, finish, wait_until

NAMES = (f"op{i}" for i in itertools.count())

GATED = """\
  steps:
    - shift: 10
    - approve: {timeout: 1h}
    - shift: 100"""

PLAN = """\
version: 1
name: {name}
target:
  lambda: {{function: {name}, alias: live, version: "{version}"}}
strategy:
{strategy}
checks: {{alarms: [{alarm}], poll_every: 5s}}
"""


@pytest.fixture(params=["file", "dynamodb"])
def ops(request: pytest.FixtureRequest, cli: Cli) -> Iterator[Cli]:
    if request.param == "dynamodb":
        table = f"runs-{next(NAMES)}"
        cli.env["DEPLOYER_STORE"] = f"dynamodb://{table}"
        created = cli.run("store", "init", f"dynamodb://{table}")
        assert created.returncode == 0, created.stderr
        assert "table created" in created.stdout
    yield cli


@pytest.fixture
def world(endpoint: str) -> LambdaWorld:
    name = next(NAMES)
    return create_lambda_world(endpoint, function=name, alarms=(f"{name}-errors",))


@pytest.fixture
def plan_for(tmp_path: Path) -> Callable[..., str]:
    def write(world: LambdaWorld, strategy: str = GATED) -> str:
        path = tmp_path / f"{world.function}.yaml"
        path.write_text(PLAN.format(name=world.function, version=world.new, strategy=strategy,
                                    alarm=world.alarms[0]))
        return str(path)

    return write


def expire_lease(cli: Cli, world: LambdaWorld, run_id: str) -> None:
    """Rewrite the stored record's lease as expired, in whichever store the test uses."""
    store = cli.env["DEPLOYER_STORE"]
    if store.startswith("file://"):
        path = Path(store.removeprefix("file://")) / "runs" / f"{run_id}.json"
        data = json.loads(path.read_text())
        data["lease"]["expires_at"] = 0
        path.write_text(json.dumps(data))
        return
    from deployer.demo.world import client

    dynamodb = client("dynamodb", world.endpoint, world.region)
    table, key = store.removeprefix("dynamodb://"), {"pk": {"S": f"run#{run_id}"}}
    item = dynamodb.get_item(TableName=table, Key=key)["Item"]
    data = json.loads(item["doc"]["S"])
    data["lease"]["expires_at"] = 0
    item["doc"] = {"S": json.dumps(data)}
    dynamodb.put_item(TableName=table, Item=item)


def active_run(cli: Cli) -> dict[str, Any]:
    result = cli.run("list", "--json")
    assert result.returncode == 0, result.stderr
    runs = json.loads(result.stdout)
    return dict(runs[0]) if runs else {}


def wait_for_phase(cli: Cli, phase: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def reached() -> bool:
        found.update(active_run(cli))
        return found.get("phase") == phase

    wait_until(reached, seconds=45)
    return found


def test_approval_from_another_process(ops: Cli, world: LambdaWorld,
                                       plan_for: Callable[..., str]) -> None:
    controller = ops.rollout(plan_for(world), "--yes")
    run = wait_for_phase(ops, "AWAITING_APPROVAL")
    status = ops.run("status", run["run_id"], "--json")
    document = json.loads(status.stdout)
    assert (document["phase"], document["weight"]) == ("AWAITING_APPROVAL", 10)
    assert world.alias_state() == (world.stable, {world.new: 0.1})
    approved = ops.run("approve", run["run_id"], "--reason", "metrics fine")
    assert approved.returncode == 0, approved.stderr
    code, _, err = finish(controller)
    assert code == 0, err
    assert world.alias_state() == (world.new, {})
    report = ops.report_document()
    approvals = [e["message"] for e in report["events"] if e["message"].startswith("approved")]
    assert approvals and approvals[0].endswith(": metrics fine")
    watched = ops.run("status", run["run_id"], "--watch")
    assert watched.returncode == 0
    assert "run succeeded" in watched.stdout


def test_abort_while_waiting(ops: Cli, world: LambdaWorld,
                             plan_for: Callable[..., str]) -> None:
    controller = ops.rollout(plan_for(world), "--yes")
    run = wait_for_phase(ops, "AWAITING_APPROVAL")
    assert ops.run("abort", run["run_id"], "--reason", "wrong build").returncode == 0
    code, _, err = finish(controller)
    assert code == 4, err
    assert world.alias_state() == (world.stable, {})
    assert ops.report_document()["reason"].endswith(": wrong build")


def test_approval_timeout_rolls_back(ops: Cli, world: LambdaWorld,
                                     plan_for: Callable[..., str]) -> None:
    plan = plan_for(world, GATED.replace("1h", "1m"))
    code, _, err = finish(ops.rollout(plan, "--yes"))
    assert code == 3, err
    assert ops.report_document()["reason"] == "approval timed out after 1m"
    assert world.alias_state() == (world.stable, {})


def test_second_controller_is_refused(ops: Cli, world: LambdaWorld,
                                      plan_for: Callable[..., str]) -> None:
    controller = ops.rollout(plan_for(world), "--yes")
    run = wait_for_phase(ops, "AWAITING_APPROVAL")
    second = ops.run("rollout", plan_for(world), "--yes")
    assert second.returncode == 5, second.stderr
    assert f"run {run['run_id']} holds" in second.stderr
    assert ops.run("resume", run["run_id"]).returncode == 5  # its lease is live
    ops.run("abort", run["run_id"])
    assert finish(controller)[0] == 4


def test_killed_controller_is_resumed(ops: Cli, world: LambdaWorld,
                                      plan_for: Callable[..., str]) -> None:
    # A bake long enough to be seen on a busy machine (90 s here), cut short once resumed.
    controller = ops.rollout(plan_for(world, "  canary: {weight: 10, bake: 30m}"), "--yes")
    run = wait_for_phase(ops, "BAKING")
    controller.send_signal(signal.SIGKILL)
    finish(controller)
    assert world.alias_state() == (world.stable, {world.new: 0.1})  # left mid-bake
    resumer = ops.start("resume", run["run_id"], "--force")

    def taken_over() -> bool:
        shown = ops.run("status", run["run_id"], "--json")
        events = json.loads(shown.stdout)["events"] if shown.returncode == 0 else []
        return any(e["message"].startswith("taken over by") for e in events)

    wait_until(taken_over, seconds=45)
    assert ops.run("promote", run["run_id"]).returncode == 0
    code, _, err = finish(resumer)
    assert code == 0, err
    assert world.alias_state() == (world.new, {})
    document = json.loads(ops.run("status", run["run_id"], "--json").stdout)
    assert document["outcome"] == "succeeded"
    assert any(e["message"].startswith("taken over by") for e in document["events"])


def test_abort_of_a_dead_controller_rolls_back_from_here(ops: Cli, world: LambdaWorld,
                                                         plan_for: Callable[..., str]) -> None:
    controller = ops.rollout(plan_for(world), "--yes")
    run = wait_for_phase(ops, "AWAITING_APPROVAL")
    controller.send_signal(signal.SIGKILL)
    finish(controller)
    expire_lease(ops, world, run["run_id"])  # as if the controller had died long ago
    aborted = ops.run("abort", run["run_id"])
    assert aborted.returncode == 0, aborted.stderr
    assert world.alias_state() == (world.stable, {})


def test_emergency_rollback_with_a_run_in_flight(ops: Cli, world: LambdaWorld,
                                                 plan_for: Callable[..., str]) -> None:
    plan = plan_for(world)
    controller = ops.rollout(plan, "--yes")
    wait_for_phase(ops, "AWAITING_APPROVAL")
    result = ops.run("rollback", plan)
    assert result.returncode == 0, result.stderr
    # The live controller is asked to abort first (so it does not see drift); whichever
    # of the two gets there first moves the traffic.
    line = result.stdout.strip()
    assert line.startswith(f"{world.function}: "), line
    assert f"version {world.stable} (the stable side of run " in line and \
        "(in progress))" in line
    assert "was asked to abort" in result.stderr
    assert world.alias_state() == (world.stable, {})
    code, _, err = finish(controller)
    assert code == 4, err


def test_emergency_rollback_without_any_store(cli: Cli, world: LambdaWorld,
                                              plan_for: Callable[..., str],
                                              tmp_path: Path) -> None:
    from deployer.demo.world import client

    client("lambda", world.endpoint, world.region).update_alias(
        FunctionName=world.function, Name="live",
        RoutingConfig={"AdditionalVersionWeights": {world.new: 0.4}})
    cli.env["DEPLOYER_STORE"] = f"file://{tmp_path / 'empty'}"
    result = cli.run("rollback", plan_for(world))
    assert result.returncode == 0, result.stderr
    assert world.alias_state() == (world.stable, {})
