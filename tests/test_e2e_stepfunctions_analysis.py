"""Version-aware analysis on the Step Functions engine (SPEC §7, §11b), end to end: the
real CLI hands the run to a moto server that executes state machines (tests/sfn_moto.py
plugs jsonata-python into its interpreter for the JSONata states); per-version metrics
are put as in tests/test_e2e_analysis.py, and the machine's GetMetricData and verdict
must give the local engine's outcome, reason and record.

Waits use poll_every 1s (the shortest a state machine's Wait takes) at time-scale 1.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.demo.world import LambdaWorld
from deployer.plan.loader import load_plan
from deployer.stepfunctions.history import worst_case
from tests import test_e2e_analysis as analysis
from tests import test_e2e_stepfunctions as sfn
from tests.e2e import Cli, wait_until
from tests.test_e2e_analysis import bad_green, put_lambda
from tests.test_e2e_stepfunctions import (
    follow,
    history_events,
    messages,
    phase_is,
    start,
    status,
)

# The Step Functions end-to-end server and CLI, the analysis tests' Lambda world.
endpoint, cli, world = sfn.endpoint, sfn.cli, analysis.world


def plan(tmp_path: Path, world: LambdaWorld, policy: str = "extend", bake: str = "2s",
         poll: str = "1s") -> str:
    """The analysis tests' plan, with the machine's shortest poll."""
    return analysis.plan(tmp_path, world, policy, bake, poll)


def test_a_canary_worse_than_stable_is_rolled_back_by_the_machine(
        world: LambdaWorld, tmp_path: Path, cli: Cli) -> None:
    put_lambda(world, world.new, 110, 33)
    put_lambda(world, world.stable, 1000, 10)
    run_id = start(cli, plan(tmp_path, world, bake="2m"))
    code, document = follow(cli, run_id)
    assert code == 3, (document["reason"], messages(document))
    assert world.alias_state() == (world.stable, {})
    # The local engine's reason and record, word for word and number for number.
    assert document["reason"] == (f"analysis: error_rate of version {world.new} is 30.0% "
                                  f"(33/110) vs 1.0% (10/1000) on version {world.stable}")
    judged = document["analysis"]["error_rate"]
    assert judged["verdict"] == "fail"
    assert judged["bound"] == "max_vs_stable 2x"
    assert judged["new"] == {"version": world.new, "requests": 110, "errors": 33,
                             "value": 30.0}
    assert judged["stable"] == {"version": world.stable, "requests": 1000, "errors": 10,
                                "value": 1.0}
    assert "analysis: error_rate fail" in messages(document)


@pytest.mark.slow  # make soak: the approve case in make test also ends succeeded
def test_a_healthy_canary_succeeds_with_its_verdicts_recorded(
        world: LambdaWorld, tmp_path: Path, cli: Cli) -> None:
    put_lambda(world, world.new, 110, 1)
    put_lambda(world, world.stable, 1000, 10)
    run_id = start(cli, plan(tmp_path, world))
    code, document = follow(cli, run_id)
    assert code == 0, document
    assert world.alias_state() == (world.new, {})
    assert document["analysis"]["error_rate"]["verdict"] == "pass"
    assert "inconclusive" not in document
    # One event when the verdict first appears, none for the polls that repeat it.
    assert messages(document).count("analysis: error_rate pass") == 1
    shown = cli.run("status", run_id)
    assert "error_rate" in shown.stdout and "pass" in shown.stdout


@pytest.mark.parametrize(("policy", "code", "reason"), [
    pytest.param("extend", 3, "analysis: inconclusive at the end of the bake 2s after 6s: "
                 "error_rate: the new version has 0 requests in the window, fewer than "
                 "min_requests 50", marks=pytest.mark.slow),  # make soak
    pytest.param("rollback", 3, "analysis: inconclusive at the end of the bake 2s: "
                 "error_rate: the new version has 0 requests in the window, fewer than "
                 "min_requests 50", marks=pytest.mark.slow),  # make soak
    pytest.param("promote", 0, None, marks=pytest.mark.slow),
])
def test_too_little_data_follows_on_inconclusive(world: LambdaWorld, tmp_path: Path,
                                                 cli: Cli, endpoint: str, policy: str,
                                                 code: int, reason: str | None) -> None:
    put_lambda(world, world.stable, 1000, 10)  # the canary has no traffic of its own
    path = plan(tmp_path, world, policy)
    result, document = follow(cli, start(cli, path))
    assert result == code, document
    used = history_events(endpoint, document["engine"]["execution_arn"])
    assert 0 < used <= worst_case(load_plan(path).plan).events
    assert document["reason"] == reason
    assert document.get("inconclusive", "").startswith("error_rate: the new version has 0 requests")
    events = messages(document)
    if policy == "extend":
        assert any(e.startswith("bake 2s extended: analysis inconclusive (error_rate: ")
                   and e.endswith("baking up to 6s") for e in events)
    if policy == "promote":
        assert world.alias_state() == (world.new, {})
        assert any(e.startswith("analysis inconclusive at the end of the bake 2s: going on "
                                "(on_inconclusive: promote)") for e in events)
    else:
        assert world.alias_state() == (world.stable, {})


@pytest.mark.slow  # make soak: keeps make test under 10 minutes
def test_an_extended_bake_goes_on_once_the_data_comes(
        world: LambdaWorld, tmp_path: Path, cli: Cli) -> None:
    put_lambda(world, world.stable, 1000, 10)
    run_id = start(cli, plan(tmp_path, world, "extend", bake="3s"))
    wait_until(lambda: any("extended" in m for m in messages(status(cli, run_id))), 60)
    put_lambda(world, world.new, 200, 2)  # the canary's traffic arrives mid-extension
    code, document = follow(cli, run_id)
    assert code == 0, document
    assert document["analysis"]["error_rate"]["verdict"] == "pass"
    assert world.alias_state() == (world.new, {})


def test_inconclusive_with_approve_waits_at_a_gate_for_an_operator(
        world: LambdaWorld, tmp_path: Path, cli: Cli, endpoint: str) -> None:
    # The gate waits up to an approval's default hour: at 1s polls its watch would not
    # fit Step Functions' history (validate names the poll that fits: 5s).
    path = plan(tmp_path, world, "approve", poll="5s")
    run_id = start(cli, path, "--time-scale", "5")  # polls every second
    wait_until(phase_is(cli, run_id, "AWAITING_APPROVAL"), 60)
    waiting = status(cli, run_id)
    assert waiting["stage"] == "analysis:step"
    assert world.alias_state() == (world.stable, {world.new: 0.1})
    assert any(m.startswith("waiting for approval: analysis inconclusive at the end of the "
                            "bake 2s (error_rate: ") and m.endswith(
                                f"deployer approve {run_id} to go on, deployer abort "
                                f"{run_id} to roll back") for m in messages(waiting))
    assert cli.run("approve", run_id).returncode == 0
    code, document = follow(cli, run_id)
    assert code == 0, document
    assert world.alias_state() == (world.new, {})
    # The history budget export checks bounds what the machine recorded, gate and all.
    used = history_events(endpoint, document["engine"]["execution_arn"])
    assert 0 < used <= worst_case(load_plan(path).plan).events


@pytest.mark.slow  # make soak: keeps make test under 10 minutes
def test_an_ecs_canary_is_judged_by_target_group_on_the_machine(
        endpoint: str, tmp_path: Path, cli: Cli) -> None:
    name = next(analysis.NAMES)
    world, path = bad_green(endpoint, tmp_path, name, "2m", "1s",
                            "{error_rate: {max: 5%, max_vs_stable: 2x}, latency: {max: 2s}}")
    code, document = follow(cli, start(cli, str(path)))
    assert code == 3, (document["reason"], messages(document))
    assert document["reason"] == (f"analysis: error_rate of target group green ({name}-green) "
                                  f"is 40.0% (80/200) vs 0.1% (2/2000) on target group blue "
                                  f"({name}-blue)")
    # ALB metrics carry no latency here: inconclusive, reported beside the fail.
    assert document["analysis"]["latency"]["verdict"] == "inconclusive"
    assert world.weights() == {"blue": 100, "green": 0}
    assert world.service("green")["desiredCount"] == 0
