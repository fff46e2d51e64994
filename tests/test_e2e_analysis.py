"""Version-aware analysis through the real CLI against a ThreadedMotoServer on
127.0.0.1, with no alarm at all: per-version metrics are put (backdated to whole
minutes, in SPEC §7's dimension order) before or while the run goes on, and the
run judges the canary against the stable version."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from deployer.demo.ecs_world import EcsWorld, create_ecs_world
from deployer.demo.world import LambdaWorld, client, create_lambda_world
from tests.e2e import Cli, finish, wait_until

NAMES = (f"an{i}" for i in itertools.count())

PLAN = """\
version: 1
name: {name}
target:
  lambda: {{function: {name}, alias: live, version: "{version}"}}
strategy:
  canary: {{weight: 10, bake: {bake}}}
checks:
  poll_every: {poll}
  metrics:
    error_rate: {{max_vs_stable: 2x}}
  window: 5m
  min_requests: 50
  on_inconclusive: {policy}
"""


@pytest.fixture
def world(endpoint: str) -> LambdaWorld:
    return create_lambda_world(endpoint, function=next(NAMES), alarms=())


def put(world: LambdaWorld | EcsWorld, namespace: str, dimensions: list[tuple[str, str]],
        requests: float, errors: float, names: tuple[str, str]) -> None:
    at = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    client("cloudwatch", world.endpoint, world.region).put_metric_data(
        Namespace=namespace, MetricData=[
            {"MetricName": name, "Timestamp": at, "Value": value,
             "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions]}
            for name, value in zip(names, (requests, errors), strict=True)])


def put_lambda(world: LambdaWorld, version: str, requests: int, errors: int) -> None:
    put(world, "AWS/Lambda", [("FunctionName", world.function),
                              ("Resource", f"{world.function}:live"),
                              ("ExecutedVersion", version)],
        requests, errors, ("Invocations", "Errors"))


def plan(tmp_path: Path, world: LambdaWorld, policy: str = "extend", bake: str = "1m",
         poll: str = "5s") -> str:
    path = tmp_path / f"{world.function}.yaml"
    path.write_text(PLAN.format(name=world.function, version=world.new, policy=policy,
                                bake=bake, poll=poll))
    return str(path)


def test_a_canary_failing_on_its_own_traffic_is_rolled_back_without_any_alarm(
        world: LambdaWorld, tmp_path: Path, cli: Cli) -> None:
    put_lambda(world, world.new, 110, 33)
    put_lambda(world, world.stable, 1000, 10)
    code, _, err = finish(cli.rollout(plan(tmp_path, world)))
    assert code == 3, err
    assert world.alias_state() == (world.stable, {})
    report = cli.report_document()
    assert report["reason"] == (f"analysis: error_rate of version {world.new} is 30.0% (33/110)"
                                f" vs 1.0% (10/1000) on version {world.stable}")
    assert report["analysis"]["error_rate"]["verdict"] == "fail"
    assert report["analysis"]["error_rate"]["new"] == {
        "version": world.new, "requests": 110, "errors": 33, "value": 30.0}


def test_a_healthy_canary_is_promoted(world: LambdaWorld, tmp_path: Path, cli: Cli) -> None:
    put_lambda(world, world.new, 110, 1)
    put_lambda(world, world.stable, 1000, 10)
    code, _, err = finish(cli.rollout(plan(tmp_path, world)))
    assert code == 0, err
    assert world.alias_state() == (world.new, {})
    report = cli.report_document()
    assert report["analysis"]["error_rate"]["verdict"] == "pass"
    status = cli.run("status", report["run_id"])
    assert "error_rate" in status.stdout and "pass" in status.stdout


@pytest.mark.parametrize(("policy", "code", "reason"), [
    ("extend", 3, "analysis: inconclusive at the end of the bake 1m after 3m: error_rate: "
                  "the new version has 0 requests in the window"),
    ("rollback", 3, "analysis: inconclusive at the end of the bake 1m: error_rate: the new "
                    "version has 0 requests in the window"),
    ("promote", 0, None),
])
def test_no_data_is_never_a_pass(world: LambdaWorld, tmp_path: Path, cli: Cli, policy: str,
                                 code: int, reason: str | None) -> None:
    result, _, err = finish(cli.rollout(plan(tmp_path, world, policy), scale="60"))
    assert result == code, err
    report = cli.report_document()
    if reason is None:
        assert any("going on (on_inconclusive: promote)" in e["message"]
                   for e in report["events"])
    else:
        assert report["reason"].startswith(reason)
        assert world.alias_state() == (world.stable, {})


def test_inconclusive_waits_for_an_operator_with_approve(world: LambdaWorld, tmp_path: Path,
                                                        cli: Cli) -> None:
    process = cli.rollout(plan(tmp_path, world, "approve"), scale="60")
    run_id: list[str] = []

    def waiting() -> bool:
        listed = cli.run("list", "--json")
        import json

        runs = [r for r in json.loads(listed.stdout or "[]")
                if r["phase"] == "AWAITING_APPROVAL"]
        run_id.extend(r["run_id"] for r in runs)
        return bool(runs)

    wait_until(waiting)
    status = cli.run("status", run_id[0])
    assert "inconclusive" in status.stdout
    assert cli.run("approve", run_id[0]).returncode == 0
    code, _, err = finish(process)
    assert code == 0, err
    assert world.alias_state() == (world.new, {})


def bad_green(endpoint: str, tmp_path: Path, name: str, bake: str, poll: str,
              metrics: str) -> tuple[EcsWorld, Path]:
    """An ECS canary whose green target group answers 40% 5xx (80/200) against blue's
    0.1% (2/2000), and its plan judged by `metrics`."""
    world = create_ecs_world(endpoint, name=name, alarms=())
    balancer = world.listener.split(":")[-1].split("/", 1)[1].rsplit("/", 1)[0]
    for group, requests, errors in ((world.green_group, 200, 80), (world.blue_group, 2000, 2)):
        put(world, "AWS/ApplicationELB",
            [("LoadBalancer", balancer), ("TargetGroup", group.split(":")[-1])],
            requests, errors, ("RequestCount", "HTTPCode_Target_5XX_Count"))
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"""\
version: 1
name: {name}
target:
  ecs:
    cluster: {world.cluster}
    services: {{blue: {world.blue}, green: {world.green}}}
    listener: {world.listener}
    image: {{container: app, uri: "registry.example/{name}:2"}}
strategy: {{canary: {{weight: 10, bake: {bake}}}}}
checks:
  poll_every: {poll}
  metrics: {metrics}
""")
    return world, path


def test_an_ecs_canary_is_judged_by_target_group(endpoint: str, tmp_path: Path,
                                                 cli: Cli) -> None:
    name = next(NAMES)
    world, path = bad_green(endpoint, tmp_path, name, "1m", "5s",
                            "{error_rate: {max: 5%, max_vs_stable: 2x}}")
    code, _, err = finish(cli.rollout(str(path)))
    assert code == 3, err
    report = cli.report_document()
    assert report["reason"] == (f"analysis: error_rate of target group green ({name}-green) is "
                                f"40.0% (80/200) vs 0.1% (2/2000) on target group blue "
                                f"({name}-blue)")
    assert world.weights() == {"blue": 100, "green": 0}
    assert world.service("green")["desiredCount"] == 0
