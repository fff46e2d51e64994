"""Runs executed by AWS Step Functions (SPEC §11), end to end: the real CLI as a
subprocess starts an execution on a moto server that runs state machines (its
interpreter patched where it differs from AWS: tests/sfn_moto.py), and returns; the
machine shifts, bakes, waits and rolls back with no deployer process alive; the
operator commands act on the run through the DynamoDB store.

Waits use poll_every 1s (the shortest a state machine's Wait takes) at time-scale 1.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from deployer.demo.ecs_world import EcsWorld, create_ecs_world
from deployer.demo.server import queue_lambda_results
from deployer.demo.world import LambdaWorld, client, create_lambda_world
from deployer.plan.loader import load_plan
from deployer.stepfunctions.history import worst_case
from tests.conftest import fake_credentials
from tests.e2e import Cli, finish, subscribed_queue, wait_until
from tests.sfn_moto import machine_aws

ROLE = "arn:aws:iam::123456789012:role/deployer-machine"
TABLE = "deployer-runs"
NAMES = (f"sfn{i}" for i in itertools.count())

PLAN = """\
version: 1
name: {name}
target:
  lambda: {{function: {function}, alias: live, version: "{version}"}}
strategy:
{strategy}
checks: {{alarms: [{alarm}], poll_every: 1s}}
{extra}
"""


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with fake_credentials(), machine_aws() as url:
        yield url


@pytest.fixture
def cli(endpoint: str, tmp_path: Path) -> Cli:
    runner = Cli(endpoint, tmp_path)
    runner.env["DEPLOYER_STORE"] = f"dynamodb://{TABLE}"
    runner.run("store", "init", f"dynamodb://{TABLE}")
    return runner


@pytest.fixture
def world(endpoint: str) -> LambdaWorld:
    name = next(NAMES)
    return create_lambda_world(endpoint, function=name, alarms=(f"{name}-errors",))


@pytest.fixture
def plan_file(tmp_path: Path) -> Callable[..., str]:
    def write(world: LambdaWorld, strategy: str = "  canary: {weight: 10, bake: 4s}",
              extra: str = "") -> str:
        path = tmp_path / f"{world.function}.yaml"
        path.write_text(PLAN.format(name=world.function, function=world.function,
                                    version=world.new, strategy=strategy,
                                    alarm=world.alarms[0], extra=extra))
        return str(path)

    return write


def start(cli: Cli, plan: str, *args: str) -> str:
    """`rollout --engine stepfunctions`: returns at once; the run id it printed."""
    result = cli.run("rollout", plan, "--engine", "stepfunctions", "--role-arn", ROLE,
                     "--time-scale", "1", *args)
    assert result.returncode == 0, result.stderr
    found = re.search(r"run (\S+) started on AWS Step Functions", result.stdout)
    assert found, result.stdout
    assert "execution arn:aws:states:us-east-1:" in result.stdout
    return found.group(1)


def status(cli: Cli, run_id: str) -> dict[str, Any]:
    result = cli.run("status", run_id, "--json")
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def follow(cli: Cli, run_id: str) -> tuple[int, dict[str, Any]]:
    result = cli.run("status", run_id, "--watch", timeout=90)
    return result.returncode, status(cli, run_id)


def phase_is(cli: Cli, run_id: str, phase: str) -> Callable[[], bool]:
    return lambda: status(cli, run_id)["phase"] == phase


def messages(document: dict[str, Any]) -> list[str]:
    return [e["message"] for e in document["events"]]


def history_events(endpoint: str, execution_arn: str) -> int:
    sfn = client("stepfunctions", endpoint, "us-east-1")
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    return sum(len(page["events"]) for page in pages)


def test_canary_runs_to_the_end_with_no_deployer_process(
        world: LambdaWorld, plan_file: Callable[..., str], cli: Cli, endpoint: str) -> None:
    plan = plan_file(world, strategy="  canary: {weight: 10, bake: 2m}")
    run_id = start(cli, plan, "--report", str(cli.report))
    handed_over = cli.report_document()  # written at the hand-over: names the run for CI
    assert (handed_over["run_id"], handed_over["outcome"]) == (run_id, None)
    # The CLI has exited; the machine has the run: mid-bake the alias is split 90/10 (a
    # bake long enough to be seen on a busy machine, then cut short by promote).
    wait_until(phase_is(cli, run_id, "BAKING"), 60)
    assert world.alias_state() == (world.stable, {world.new: 0.1})
    assert cli.run("promote", run_id).returncode == 0
    code, document = follow(cli, run_id)
    assert code == 0, document
    assert (document["outcome"], document["reason"]) == ("succeeded", None)
    assert world.alias_state() == (world.new, {})
    assert document["weight"] == 100
    assert document["engine"]["execution_arn"].endswith(f":deployer-{world.function}:{run_id}")
    events = messages(document)
    assert "shifted to 10% (read back)" in events
    assert "shifted to 100% (read back)" in events
    assert events.index("shifted to 10% (read back)") < events.index("baking 120s")
    page = Path(cli.report).with_suffix(".html")
    assert cli.run("report", run_id, "--html", str(page)).returncode == 0
    assert "<polyline" in page.read_text()  # the chart of the machine's read-back weights
    # The history budget export checks is an upper bound of what AWS records.
    used = history_events(endpoint, document["engine"]["execution_arn"])
    assert 0 < used <= worst_case(load_plan(plan).plan).events


def test_an_alarm_mid_bake_rolls_back_and_wait_exits_3(
        world: LambdaWorld, plan_file: Callable[..., str], cli: Cli, endpoint: str) -> None:
    topic, notified = subscribed_queue(endpoint, world.function)
    plan = plan_file(world, strategy="  canary: {weight: 20, bake: 30s}",
                     extra=f"notify: {{sns_topic: '{topic}'}}")
    process = cli.start("rollout", plan, "--engine", "stepfunctions", "--role-arn", ROLE,
                        "--time-scale", "1", "--wait", "--store", f"dynamodb://{TABLE}")
    wait_until(lambda: world.alias_state() == (world.stable, {world.new: 0.2}), 30)
    world.set_alarm(world.alarms[0], "ALARM")
    code, out, err = finish(process, 60)
    assert code == 3, err
    assert "started on AWS Step Functions" in out
    assert world.alias_state() == (world.stable, {})
    assert "rolled_back" in err and world.alarms[0] in err
    wait_until(lambda: [m["event"] for m in notified()] == ["started", "rolled_back"], 10)


APPROVAL = """\
  steps:
    - shift: 25
    - approve: {timeout: 1m}
    - shift: 100"""


def test_deployer_approve_releases_the_gate(
        world: LambdaWorld, plan_file: Callable[..., str], cli: Cli) -> None:
    run_id = start(cli, plan_file(world, strategy=APPROVAL))
    wait_until(phase_is(cli, run_id, "AWAITING_APPROVAL"), 30)
    assert world.alias_state() == (world.stable, {world.new: 0.25})
    assert cli.run("resume", run_id).returncode == 2  # the engine owns the run
    result = cli.run("approve", run_id, "--reason", "graphs are flat")
    assert result.returncode == 0, result.stderr
    assert "SendTaskSuccess" in result.stdout
    code, document = follow(cli, run_id)
    assert code == 0, document
    assert world.alias_state() == (world.new, {})
    approvals = [m for m in messages(document) if m.startswith("approve by ")]
    assert approvals and "graphs are flat" in approvals[0]
    assert all(r["handled"] for r in document["requests"])


def test_abort_at_the_gate_rolls_back(
        world: LambdaWorld, plan_file: Callable[..., str], cli: Cli) -> None:
    run_id = start(cli, plan_file(world, strategy=APPROVAL))
    wait_until(phase_is(cli, run_id, "AWAITING_APPROVAL"), 30)
    result = cli.run("abort", run_id, "--reason", "wrong build")
    assert result.returncode == 0, result.stderr
    assert "SendTaskFailure" in result.stdout
    code, document = follow(cli, run_id)
    assert code == 4, document
    assert document["outcome"] == "aborted" and "wrong build" in document["reason"]
    assert world.alias_state() == (world.stable, {})


def test_abort_mid_bake_is_read_at_the_next_poll(
        world: LambdaWorld, plan_file: Callable[..., str], cli: Cli) -> None:
    plan = plan_file(world, strategy="  canary: {weight: 10, bake: 1m}")
    process = cli.start("rollout", plan, "--engine", "stepfunctions", "--role-arn", ROLE,
                        "--time-scale", "1", "--wait")
    wait_until(lambda: world.alias_state() == (world.stable, {world.new: 0.1}), 30)
    (run_id,) = [r["run_id"] for r in json.loads(cli.run("list", "--json").stdout)
                 if r["plan_name"] == world.function]
    wait_until(phase_is(cli, run_id, "BAKING"), 30)
    result = cli.run("abort", run_id, "--reason", "customer complaints")
    assert result.returncode == 0, result.stderr
    assert "within one poll" in result.stdout
    code, _, err = finish(process, 60)
    assert code == 4, err  # --wait exits with the outcome's code
    document = status(cli, run_id)
    assert "customer complaints" in document["reason"]
    assert world.alias_state() == (world.stable, {})
    assert document["weight"] == 0


@pytest.mark.slow  # make soak: keeps make test near 8 minutes
@pytest.mark.parametrize("full", [False, True])
def test_promote_cuts_the_bake_short(
        world: LambdaWorld, plan_file: Callable[..., str], cli: Cli, full: bool) -> None:
    run_id = start(cli, plan_file(world, strategy="  linear: {step: 20, every: 2m}"))
    wait_until(phase_is(cli, run_id, "BAKING"), 30)
    assert cli.run("promote", run_id, *(["--full"] if full else [])).returncode == 0
    if not full:  # the next step comes at once: 40%, and another 2-minute bake
        wait_until(lambda: world.alias_state() == (world.stable, {world.new: 0.4}), 30)
        assert cli.run("promote", run_id, "--full").returncode == 0
    code, document = follow(cli, run_id)
    assert code == 0, document
    assert world.alias_state() == (world.new, {})
    events = messages(document)
    assert any("the bake is cut short" in m for m in events)
    shifted = [m for m in events if m.startswith("shifted to")]
    assert shifted == (["shifted to 20% (read back)", "shifted to 100% (read back)"] if full
                       else ["shifted to 20% (read back)", "shifted to 40% (read back)",
                             "shifted to 100% (read back)"])


ECS_PLAN = """\
version: 1
name: {name}
target:
  ecs:
    cluster: {world.cluster}
{layout}
    listener: {world.listener}
    image: {{container: app, uri: "registry.example/{name}:2"}}
strategy:
  canary: {{weight: 10, bake: {bake}}}
checks: {{alarms: [{name}-5xx], poll_every: 1s}}
"""


def ecs_plan(endpoint: str, tmp_path: Path, task_sets: bool, bake: str = "3s",
             test_route: bool = False) -> tuple[EcsWorld, str]:
    name = next(NAMES)
    world = create_ecs_world(endpoint, name=name, alarms=(f"{name}-5xx",), task_sets=task_sets)
    layout = (f"    service: {world.service_name}\n"
              f"    target_groups: {{blue: {name}-blue, green: {name}-green}}" if task_sets
              else f"    services: {{blue: {world.blue}, green: {world.green}}}")
    if test_route:
        layout += f"\n    test_listener: {world.test_listener}"
    path = tmp_path / f"{name}.yaml"
    path.write_text(ECS_PLAN.format(name=name, world=world, layout=layout, bake=bake))
    return world, str(path)


@pytest.mark.slow  # make soak: the test-listener case runs two services in make test
def test_an_ecs_canary_on_two_services(endpoint: str, tmp_path: Path, cli: Cli) -> None:
    world, plan = ecs_plan(endpoint, tmp_path, task_sets=False, bake="2m")
    run_id = start(cli, plan)
    wait_until(phase_is(cli, run_id, "BAKING"), 60)
    assert world.weights() == {"blue": 90, "green": 10}
    assert cli.run("promote", run_id).returncode == 0
    code, document = follow(cli, run_id)
    assert code == 0, document
    assert world.weights() == {"blue": 0, "green": 100}
    assert world.service("blue")["desiredCount"] == 0  # retired by the machine
    assert document["target"]["new_service"] == world.green


def test_an_ecs_test_listener_points_at_the_new_colour_and_back_on_rollback(
        endpoint: str, tmp_path: Path, cli: Cli) -> None:
    world, plan = ecs_plan(endpoint, tmp_path, task_sets=False, bake="2m", test_route=True)
    assert world.weights(world.test_listener) == {"blue": 100, "green": 0}
    run_id = start(cli, plan)
    wait_until(phase_is(cli, run_id, "BAKING"), 60)
    assert world.weights() == {"blue": 90, "green": 10}
    assert world.weights(world.test_listener) == {"blue": 0, "green": 100}  # hooks test it
    world.set_alarm(world.alarms[0], "ALARM")
    code, document = follow(cli, run_id)
    assert code == 3, document
    assert world.weights() == {"blue": 100, "green": 0}
    assert world.weights(world.test_listener) == {"blue": 100, "green": 0}  # back on stable
    assert world.service("green")["desiredCount"] == 0


@pytest.mark.slow  # make soak: keeps make test near 8 minutes
def test_an_ecs_task_set_canary_rolled_back_by_an_alarm(endpoint: str, tmp_path: Path,
                                                        cli: Cli) -> None:
    world, plan = ecs_plan(endpoint, tmp_path, task_sets=True, bake="1m")
    (first,) = world.task_sets()
    run_id = start(cli, plan)
    wait_until(phase_is(cli, run_id, "BAKING"), 30)
    assert world.weights() == {"blue": 90, "green": 10}
    world.set_alarm(world.alarms[0], "ALARM")
    code, document = follow(cli, run_id)
    assert code == 3, document
    assert world.weights() == {"blue": 100, "green": 0}
    assert [t["arn"] for t in world.task_sets()] == [first["arn"]]  # the new one is gone
    assert world.alarms[0] in document["reason"]


def application(endpoint: str, tmp_path: Path, count: int, waves: str,
                bake: str = "2s") -> tuple[list[LambdaWorld], str]:
    worlds = [create_lambda_world(endpoint, function=next(NAMES),
                                  alarms=(f"{next(NAMES)}-errors",)) for _ in range(count)]
    lines = ["version: 1", f"name: {next(NAMES)}", "targets:"]
    lines += [f"  t{i}: {{lambda: {{function: {w.function}, alias: live, "
              f"version: \"{w.new}\"}}, alarms: [{w.alarms[0]}]}}"
              for i, w in enumerate(worlds)]
    lines += [f"waves: {waves}", f"strategy: {{canary: {{weight: 10, bake: {bake}}}}}",
              "checks: {poll_every: 1s}"]
    path = tmp_path / "app.yaml"
    path.write_text("\n".join(lines) + "\n")
    return worlds, str(path)


@pytest.mark.slow  # make soak: keeps make test near 8 minutes
def test_a_whole_application_in_two_waves(endpoint: str, tmp_path: Path, cli: Cli) -> None:
    (a, b, c), plan = application(endpoint, tmp_path, 3, "[[t0, t1], [t2]]", bake="20s")
    run_id = start(cli, plan)
    wait_until(lambda: c.alias_state() == (c.stable, {c.new: 0.1}), 90)
    assert a.alias_state() == (a.new, {}) and b.alias_state() == (b.new, {})
    middle = status(cli, run_id)["targets"]
    assert (middle["t0"]["weight"], middle["t1"]["weight"]) == (100, 100)
    assert middle["t2"]["weight"] in (0, 10)
    code, document = follow(cli, run_id)
    assert code == 0, document
    assert all(w.alias_state() == (w.new, {}) for w in (a, b, c))
    assert all(t["weight"] == 100 for t in document["targets"].values())


@pytest.mark.slow  # make soak: the other-account case is the same two waves and alarm
def test_an_alarm_in_wave_two_rolls_back_wave_one_too(endpoint: str, tmp_path: Path,
                                                      cli: Cli) -> None:
    (a, b), plan = application(endpoint, tmp_path, 2, "[[t0], [t1]]", bake="2m")
    run_id = start(cli, plan)
    # Each bake is long enough to be seen on a busy machine; wave 1's is cut short.
    wait_until(lambda: a.alias_state() == (a.stable, {a.new: 0.1}), 60)
    wait_until(phase_is(cli, run_id, "BAKING"), 60)
    assert cli.run("promote", run_id).returncode == 0
    wait_until(lambda: b.alias_state() == (b.stable, {b.new: 0.1}), 60)
    assert a.alias_state() == (a.new, {})
    b.set_alarm(b.alarms[0], "ALARM")
    code, document = follow(cli, run_id)
    assert code == 3, document
    assert a.alias_state() == (a.stable, {}) and b.alias_state() == (b.stable, {})
    assert all(t["weight"] == 0 for t in document["targets"].values())


def test_someone_else_changing_the_alias_mid_bake_is_drift_left_alone(
        world: LambdaWorld, plan_file: Callable[..., str], cli: Cli, endpoint: str) -> None:
    run_id = start(cli, plan_file(world, strategy="  linear: {step: 20, every: 3s}"))
    wait_until(phase_is(cli, run_id, "BAKING"), 30)
    client("lambda", endpoint, "us-east-1").update_alias(
        FunctionName=world.function, Name="live", FunctionVersion=world.stable,
        RoutingConfig={"AdditionalVersionWeights": {world.new: 0.5}})
    code, document = follow(cli, run_id)
    assert code == 6, document
    assert document["outcome"] == "failed" and "someone else changed it" in document["reason"]
    assert world.alias_state() == (world.stable, {world.new: 0.5})  # not fought, not undone
    assert "deployer rollback" in (document["hint"] or "")


def hook_plan(world: LambdaWorld, plan_file: Callable[..., str], endpoint: str) -> str:
    iam = client("iam", endpoint, "us-east-1")
    role = iam.get_role(RoleName=f"{world.function}-role")["Role"]["Arn"]
    client("lambda", endpoint, "us-east-1").create_function(
        FunctionName=f"{world.function}-smoke", Runtime="python3.12", Role=role,
        Handler="h.main", Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18})
    return plan_file(world, strategy="  canary: {weight: 10, bake: 2s}",
                     extra=f"hooks: {{before_traffic: [{{lambda: {world.function}-smoke, "
                           f"timeout: 5m}}]}}")


def test_a_before_traffic_hook_that_fails_rolls_back_before_any_traffic(
        world: LambdaWorld, plan_file: Callable[..., str], cli: Cli, endpoint: str) -> None:
    plan = hook_plan(world, plan_file, endpoint)
    queue_lambda_results(endpoint, [json.dumps({"hookStatus": "Failed"})], "us-east-1")
    code, document = follow(cli, start(cli, plan))
    assert code == 3, document
    assert "before_traffic hook" in document["reason"] and "Failed" in document["reason"]
    assert not any(m.startswith("shifted") for m in messages(document))
    assert world.alias_state() == (world.stable, {})


@pytest.mark.slow  # make soak: keeps make test near 8 minutes
def test_an_in_progress_hook_is_asked_again_until_it_succeeds(
        world: LambdaWorld, plan_file: Callable[..., str], cli: Cli, endpoint: str) -> None:
    plan = hook_plan(world, plan_file, endpoint)
    queue_lambda_results(endpoint, [json.dumps({"hookStatus": "IN_PROGRESS"}),
                                    json.dumps({"hookStatus": "SUCCEEDED"})], "us-east-1")
    code, document = follow(cli, start(cli, plan, "--time-scale", "30"))
    assert code == 0, document
    assert world.alias_state() == (world.new, {})
    sfn = client("stepfunctions", endpoint, "us-east-1")
    history = sfn.get_execution_history(executionArn=document["engine"]["execution_arn"],
                                        maxResults=1000)["events"]
    invokes = [e for e in history if e["type"] == "TaskScheduled"
               and e["taskScheduledEventDetails"]["resource"] == "invoke"]
    assert len(invokes) == 2  # IN_PROGRESS, then asked again


@pytest.fixture
def throttled_writes(world: LambdaWorld) -> Iterator[list[int]]:
    """The first two UpdateAlias calls on the world's function answer 429
    TooManyRequestsException (a fault injected into the moto server in this process)."""
    from moto.awslambda.exceptions import LambdaClientError
    from moto.awslambda.models import LambdaBackend

    original = LambdaBackend.update_alias
    throttled: list[int] = []

    def update_alias(self: Any, name: str, function_name: str, *args: Any, **kwargs: Any
                     ) -> Any:
        if function_name == world.function and len(throttled) < 2:
            throttled.append(1)
            error = LambdaClientError("TooManyRequestsException", "Rate exceeded")
            error.code = 429
            raise error
        return original(self, name, function_name, *args, **kwargs)

    LambdaBackend.update_alias = update_alias  # type: ignore[method-assign]
    yield throttled
    LambdaBackend.update_alias = original  # type: ignore[method-assign]


@pytest.mark.slow  # make soak: keeps make test near 8 minutes
def test_a_throttled_shift_is_retried_not_rolled_back(
        world: LambdaWorld, plan_file: Callable[..., str], cli: Cli,
        throttled_writes: list[int]) -> None:
    code, document = follow(cli, start(cli, plan_file(
        world, strategy="  canary: {weight: 10, bake: 1s}")))
    assert code == 0, document
    assert len(throttled_writes) == 2
    assert world.alias_state() == (world.new, {})


@pytest.mark.slow  # make soak: keeps make test near 8 minutes
@pytest.mark.parametrize(("on_timeout", "code", "final"), [
    ("promote", 0, "new"), ("rollback", 3, "stable")])
def test_an_unanswered_approval_times_out(world: LambdaWorld, plan_file: Callable[..., str],
                                          cli: Cli, on_timeout: str, code: int,
                                          final: str) -> None:
    strategy = APPROVAL.replace("{timeout: 1m}", f"{{timeout: 20s, on_timeout: {on_timeout}}}")
    run_id = start(cli, plan_file(world, strategy=strategy))
    wait_until(phase_is(cli, run_id, "AWAITING_APPROVAL"), 30)
    listed = json.loads(cli.run("list", "--json").stdout)
    assert run_id in [r["run_id"] for r in listed]  # an active run like any other
    ended, document = follow(cli, run_id)
    assert ended == code, document
    version = world.new if final == "new" else world.stable
    assert world.alias_state() == (version, {})


@pytest.mark.slow  # make soak
def test_a_second_release_of_the_same_plan_updates_the_machine(
        world: LambdaWorld, plan_file: Callable[..., str], cli: Cli, endpoint: str) -> None:
    plan = plan_file(world, strategy="  canary: {weight: 10, bake: 1s}")
    first = start(cli, plan)
    assert follow(cli, first)[0] == 0
    lam = client("lambda", endpoint, "us-east-1")
    lam.update_function_code(FunctionName=world.function, ZipFile=b"PK\x05\x06" + b"\x00" * 18)
    newer = lam.publish_version(FunctionName=world.function)["Version"]
    Path(plan).write_text(Path(plan).read_text().replace(f'"{world.new}"', f'"{newer}"'))
    second = start(cli, plan)
    code, document = follow(cli, second)
    assert code == 0, document
    assert world.alias_state() == (newer, {})
    machines = client("stepfunctions", endpoint, "us-east-1").list_state_machines()
    assert [m["name"] for m in machines["stateMachines"]].count(
        f"deployer-{world.function}") == 1


@pytest.mark.slow  # make soak: keeps make test near 8 minutes
def test_an_execution_stopped_in_the_console_ends_the_run_as_unsafe(
        world: LambdaWorld, plan_file: Callable[..., str], cli: Cli, endpoint: str) -> None:
    run_id = start(cli, plan_file(world, strategy="  canary: {weight: 10, bake: 10m}"))
    wait_until(phase_is(cli, run_id, "BAKING"), 30)
    execution = status(cli, run_id)["engine"]["execution_arn"]
    client("stepfunctions", endpoint, "us-east-1").stop_execution(executionArn=execution)
    result = cli.run("abort", run_id)  # nobody is left to roll it back: say so
    assert result.returncode == 6, result.stderr
    assert "traffic may still be split" in result.stderr
    assert "deployer rollback" in result.stderr
    document = status(cli, run_id)
    assert (document["outcome"], document["exit_code"]) == ("failed", 6)
    assert world.alias_state() == (world.stable, {world.new: 0.1})  # as the machine left it


@pytest.mark.slow  # make soak: its deadline leaves a busy machine a 20 s margin
def test_the_deadline_rolls_back_a_run_left_waiting_at_its_gate(
        world: LambdaWorld, plan_file: Callable[..., str], cli: Cli) -> None:
    # The gate is reached in a second or two; 20s leaves a busy machine a wide margin.
    run_id = start(cli, plan_file(world, strategy=APPROVAL, extra="deadline: 20s"))
    wait_until(phase_is(cli, run_id, "AWAITING_APPROVAL"), 20)
    code, document = follow(cli, run_id)
    assert code == 3, document
    assert "deadline" in document["reason"]
    assert world.alias_state() == (world.stable, {})


def test_the_dashboard_approves_a_gate_through_its_task_token(
        world: LambdaWorld, plan_file: Callable[..., str], cli: Cli, endpoint: str) -> None:
    from starlette.testclient import TestClient

    from deployer.core.settings import Settings
    from deployer.dashboard.app import create_app
    from deployer.store.dynamo_store import DynamoStore
    from tests.test_dashboard import csrf

    run_id = start(cli, plan_file(world, strategy=APPROVAL))
    wait_until(phase_is(cli, run_id, "AWAITING_APPROVAL"), 30)
    settings = Settings(region="us-east-1", endpoint_url=endpoint)
    page = TestClient(create_app(DynamoStore(TABLE, settings), "alice", settings=settings))
    run = f"/runs/{run_id}"
    answer = page.post(f"{run}/actions", data={"action": "approve", "csrf": csrf(page, run)},
                       follow_redirects=False)
    assert answer.status_code == 303, answer.text
    code, document = follow(cli, run_id)
    assert code == 0, document
    assert any(m.startswith("approve by alice (dashboard)") for m in messages(document))


@pytest.mark.slow  # make soak: keeps make test near 8 minutes
def test_abort_while_a_hook_keeps_answering_in_progress(
        world: LambdaWorld, plan_file: Callable[..., str], cli: Cli, endpoint: str) -> None:
    from moto.awslambda_simple.models import lambda_simple_backends

    plan = hook_plan(world, plan_file, endpoint)
    queue_lambda_results(endpoint, [json.dumps({"hookStatus": "IN_PROGRESS"})] * 30,
                         "us-east-1")
    try:
        run_id = start(cli, plan, "--time-scale", "30")
        wait_until(lambda: status(cli, run_id)["stage"] == "before_traffic", 30)
        assert cli.run("abort", run_id, "--reason", "smoke test hangs").returncode == 0
        code, document = follow(cli, run_id)
    finally:  # the unused answers go (the server is this process's): later hooks get theirs
        lambda_simple_backends["123456789012"]["us-east-1"].lambda_simple_results_queue.clear()
    assert code == 4, document
    assert "smoke test hangs" in document["reason"]
    assert world.alias_state() == (world.stable, {})


@pytest.fixture
def start_execution_hangs() -> Iterator[dict[str, Any]]:
    """StartExecution hangs (the server is this process's) until released; then it fails,
    as if the CLI had died after saving the hand-over and never sent it."""
    import threading

    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution
    state: dict[str, Any] = {"called": threading.Event(), "release": threading.Event()}

    def start_execution(self: Any, *args: Any, **kwargs: Any) -> Any:
        state["called"].set()
        state["release"].wait(60)
        raise RuntimeError("the client went away")

    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]
    try:
        yield state
    finally:
        state["release"].set()
        StepFunctionsParserBackend.start_execution = original  # type: ignore[method-assign]


def test_a_run_whose_execution_never_started_ends_after_two_minutes(
        world: LambdaWorld, plan_file: Callable[..., str], cli: Cli, endpoint: str,
        start_execution_hangs: dict[str, Any]) -> None:
    import signal

    plan = plan_file(world)
    process = cli.start("rollout", plan, "--engine", "stepfunctions", "--role-arn", ROLE,
                        "--time-scale", "1")
    assert start_execution_hangs["called"].wait(60)
    process.send_signal(signal.SIGKILL)  # the CLI dies between the hand-over and the start
    finish(process)
    start_execution_hangs["release"].set()
    (run,) = [r for r in json.loads(cli.run("list", "--json").stdout)
              if r["plan_name"] == world.function]
    run_id = run["run_id"]
    assert status(cli, run_id)["phase"] == "PREPARING"  # StartExecution may be on its way
    dynamodb = client("dynamodb", endpoint, "us-east-1")
    key = {"pk": {"S": f"run#{run_id}"}}
    item = dynamodb.get_item(TableName=TABLE, Key=key)["Item"]
    document = json.loads(item["doc"]["S"])
    document["engine"]["handed_over_at"] = "2026-01-01T00:00:00Z"  # long ago
    item["doc"] = {"S": json.dumps(document)}
    dynamodb.put_item(TableName=TABLE, Item=item)
    listed = json.loads(cli.run("list", "--json").stdout)
    assert run_id not in [r["run_id"] for r in listed]  # list noticed it: ended
    ended = status(cli, run_id)
    assert (ended["outcome"], ended["phase"]) == ("failed", "FAILED")
    assert "its execution never started" in ended["reason"]
    assert "nothing moved" in ended["reason"]
    assert world.alias_state() == (world.stable, {})
    lock = {"pk": {"S": f"lock#lambda:us-east-1:{world.function}:live"}}
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key=lock)  # its lock released


def test_an_alarm_already_firing_is_ignored_until_seen_ok_then_rolls_back(
        world: LambdaWorld, plan_file: Callable[..., str], cli: Cli, endpoint: str) -> None:
    world.set_alarm(world.alarms[0], "ALARM")  # firing before the release starts
    plan = plan_file(world, strategy="  canary: {weight: 10, bake: 2m}")
    Path(plan).write_text(Path(plan).read_text().replace(
        "poll_every: 1s}", "poll_every: 1s, already_firing: ignore}"))
    run_id = start(cli, plan)
    wait_until(phase_is(cli, run_id, "BAKING"), 60)
    dynamodb = client("dynamodb", endpoint, "us-east-1")

    def muted() -> list[str] | None:
        item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": f"run#{run_id}"}})["Item"]
        return [v["S"] for v in item["sf_muted"]["L"]] if "sf_muted" in item else None

    assert muted() is None  # still muted as handed over: the machine has nothing to say
    assert world.alias_state() == (world.stable, {world.new: 0.1})  # polls go on: ignored
    world.set_alarm(world.alarms[0], "OK")
    wait_until(lambda: muted() == [], 30)  # seen OK once: it protects the run from now on
    world.set_alarm(world.alarms[0], "ALARM")
    code, document = follow(cli, run_id)
    assert code == 3, document
    assert world.alarms[0] in document["reason"]
    assert world.alias_state() == (world.stable, {})


def test_a_rollback_in_wave_one_releases_what_was_prepared_for_wave_two(
        endpoint: str, tmp_path: Path, cli: Cli) -> None:
    """rollout prepares every target before the hand-over (wave 2's new ECS colour
    scaled up, its test listener pointed at it); a rollback in wave 1 undoes them too."""
    api = create_lambda_world(endpoint, function=next(NAMES), alarms=(f"{next(NAMES)}-e",))
    name = next(NAMES)
    web = create_ecs_world(endpoint, name=name, alarms=(f"{name}-5xx",))
    plan = tmp_path / "two-kinds.yaml"
    plan.write_text(f"""\
version: 1
name: {name}
targets:
  api: {{lambda: {{function: {api.function}, alias: live, version: "{api.new}"}},
        alarms: [{api.alarms[0]}]}}
  web:
    ecs:
      cluster: {web.cluster}
      services: {{blue: {web.blue}, green: {web.green}}}
      listener: {web.listener}
      test_listener: {web.test_listener}
      image: {{container: app, uri: "registry.example/{name}:2"}}
waves: [[api], [web]]
strategy: {{canary: {{weight: 10, bake: 2m}}}}
checks: {{poll_every: 1s}}
""")
    run_id = start(cli, str(plan))
    wait_until(lambda: api.alias_state() == (api.stable, {api.new: 0.1}), 60)
    assert web.service("green")["desiredCount"] == 2  # prepared before the hand-over
    assert web.weights(web.test_listener) == {"blue": 0, "green": 100}
    api.set_alarm(api.alarms[0], "ALARM")
    code, document = follow(cli, run_id)
    assert code == 3, document
    assert api.alias_state() == (api.stable, {})
    assert web.weights() == {"blue": 100, "green": 0}  # never moved, written as it was
    assert web.weights(web.test_listener) == {"blue": 100, "green": 0}
    assert web.service("green")["desiredCount"] == 0


def test_a_target_in_another_account_is_written_and_watched_with_its_role(
        endpoint: str, tmp_path: Path, cli: Cli) -> None:
    """SPEC §13 on this engine: the other account's target is reached with the Task's
    Credentials (its role), its own alarm read with that role too; an alarm there rolls
    back both accounts' targets."""
    role = "arn:aws:iam::222233334444:role/deployer-target"
    name = next(NAMES)
    here = create_lambda_world(endpoint, function=name, alarms=(f"{name}-errors",))
    there = create_lambda_world(endpoint, function=name, alarms=(f"{name}-errors",),
                                role_arn=role)
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"""version: 1
name: {name}
targets:
  here: {{lambda: {{function: {name}, alias: live, version: "{here.new}"}},
         alarms: [{name}-errors]}}
  there: {{lambda: {{function: {name}, alias: live, version: "{there.new}"}},
          role_arn: "{role}", alarms: [{name}-errors]}}
waves: [[here], [there]]
strategy: {{canary: {{weight: 10, bake: 2m}}}}
checks: {{poll_every: 1s}}
""")
    run_id = start(cli, str(path))
    wait_until(lambda: there.alias_state()[1] != {} or here.alias_state()[1] != {}, 60)
    assert cli.run("promote", run_id).returncode == 0  # wave 1's bake, cut short
    wait_until(lambda: there.alias_state() == (there.stable, {there.new: 0.1}), 60)
    assert here.alias_state() == (here.new, {})
    there.set_alarm(f"{name}-errors", "ALARM")  # in the other account only
    code, document = follow(cli, run_id)
    assert code == 3, document
    assert here.alias_state() == (here.stable, {}) and there.alias_state() == (there.stable, {})
    assert "ALARM" in document["reason"]
    used = history_events(endpoint, document["engine"]["execution_arn"])
    assert 0 < used <= worst_case(load_plan(str(path)).plan).events
    # The machine's role assumes the target's; it gets no rights of its own there.
    from deployer.cli.iam_policy import machine_role_policy

    statements = machine_role_policy(load_plan(str(path)).plan, TABLE)["Statement"]
    assumed = [s for s in statements if s["Action"] == ["sts:AssumeRole"]]
    assert assumed and assumed[0]["Resource"] == role
