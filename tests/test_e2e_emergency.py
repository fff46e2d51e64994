"""`deployer rollback PLAN` through the real CLI against the moto server: back to what
served before the newest run — also after that run succeeded (Lambda, an application
with --to NAME=V, ECS colours and task sets already released by keep_old_for), and
when that run's controller died (the run is ended and no longer blocks the next
release; `list` says it is dead; `abort` of a dead run whose traffic is already back
counts it as rolled back, not drift)."""

from __future__ import annotations

import itertools
import json
import signal
from pathlib import Path

from deployer.demo.ecs_world import create_ecs_world
from deployer.demo.world import LambdaWorld, client, create_lambda_world
from tests.e2e import Cli, finish, wait_until
from tests.test_e2e_operator import expire_lease
from tests.test_e2e_task_sets import world_and_plan

NAMES = (f"em{i}" for i in itertools.count())

LAMBDA_PLAN = """\
version: 1
name: {name}
target:
  lambda: {{function: {name}, alias: live, version: "${{NEW_VERSION}}"}}
strategy: {{canary: {{weight: 10, bake: {bake}}}}}
keep_old_for: 30m
checks: {{alarms: [{name}-errors], poll_every: 5s}}
"""


def lambda_world(endpoint: str) -> LambdaWorld:
    name = next(NAMES)
    return create_lambda_world(endpoint, function=name, alarms=(f"{name}-errors",))


def lambda_plan(tmp_path: Path, world: LambdaWorld, bake: str = "1m") -> str:
    path = tmp_path / f"{world.function}.yaml"
    path.write_text(LAMBDA_PLAN.format(name=world.function, bake=bake))
    return str(path)


def runs(cli: Cli, *args: str) -> list[dict[str, object]]:
    listed = cli.run("list", "--json", *args)
    assert listed.returncode == 0, listed.stderr
    return list(json.loads(listed.stdout))


def test_after_a_release_that_succeeded_lambda_goes_back_to_the_version_it_replaced(
        endpoint: str, tmp_path: Path, cli: Cli) -> None:
    world = lambda_world(endpoint)
    plan = lambda_plan(tmp_path, world, bake="30s")
    cli.env["NEW_VERSION"] = world.new
    process = cli.rollout(plan, "--yes", scale="60")
    # The run is in its keep-old window (30m): succeeded in traffic, its controller alive.
    wait_until(lambda: world.alias_state() == (world.new, {}), seconds=60)
    wait_until(lambda: (runs(cli) or [{}])[0].get("stage") == "keep_old", seconds=30)
    result = cli.run("rollback", plan)
    assert result.returncode == 0, result.stderr
    assert world.alias_state() == (world.stable, {})
    # (its live controller is asked to abort first: either of the two moves the traffic)
    assert f"version {world.stable} (the stable side of run " in result.stdout
    assert finish(process)[0] == 4  # its controller ended it: aborted
    # A release that ran to its end (keep_old_for done): the version it replaced.
    done = tmp_path / "done.yaml"
    done.write_text(Path(plan).read_text().replace("keep_old_for: 30m", "keep_old_for: 0s"))
    code, _, err = finish(cli.rollout(str(done), "--yes", scale="60"))
    assert code == 0, err
    succeeded = cli.report_document()["run_id"]
    assert world.alias_state() == (world.new, {})
    result = cli.run("rollback", plan)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (f"{world.function}: 100% on version {world.new} -> "
                                     f"version {world.stable} (what run {succeeded} "
                                     "(succeeded) replaced)")
    assert world.alias_state() == (world.stable, {})
    again = cli.run("rollback", plan)
    assert again.returncode == 0
    assert again.stdout.strip() == (f"{world.function}: nothing to do: already on version "
                                    f"{world.stable} (what run {succeeded} (succeeded) "
                                    "replaced)")


def test_an_application_goes_back_per_target_with_to_name_equals_version(
        endpoint: str, tmp_path: Path, cli: Cli) -> None:
    a, b = lambda_world(endpoint), lambda_world(endpoint)
    from deployer.demo.world import _zip

    lam = client("lambda", endpoint, "us-east-1")
    lam.update_function_code(FunctionName=b.function, ZipFile=_zip("def main(e, c): 3"))
    third = lam.publish_version(FunctionName=b.function)["Version"]
    plan = tmp_path / "app.yaml"
    plan.write_text(f"""\
version: 1
name: app-{a.function}
targets:
  a: {{lambda: {{function: {a.function}, alias: live, version: "{a.new}"}}}}
  b: {{lambda: {{function: {b.function}, alias: live, version: "{b.new}"}}}}
strategy: {{all_at_once: {{}}}}
checks: {{alarms: [{a.function}-errors]}}
""")
    code, _, err = finish(cli.rollout(str(plan), "--yes"))
    assert code == 0, err
    result = cli.run("rollback", str(plan), "--to", f"b={third}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"a: 100% on version {a.new} -> version {a.stable} (what run ")
    assert lines[1] == f"b: 100% on version {b.new} -> version {third} (--to)"
    assert a.alias_state() == (a.stable, {})
    assert b.alias_state() == (third, {})
    unknown = cli.run("rollback", str(plan), "--to", "c=1")
    assert unknown.returncode == 2 and "--to names no target of this plan: c" in unknown.stderr
    bare = cli.run("rollback", str(plan), "--to", "1")
    assert bare.returncode == 2 and "--to NAME=1" in bare.stderr


def test_ecs_colours_scaled_to_0_after_keep_old_for_are_brought_back_first(
        endpoint: str, tmp_path: Path, cli: Cli) -> None:
    name = next(NAMES)
    world = create_ecs_world(endpoint, name=name, alarms=(f"{name}-5xx",))
    plan = tmp_path / "ecs.yaml"
    plan.write_text(f"""\
version: 1
name: {name}
target:
  ecs:
    cluster: {world.cluster}
    services: {{blue: {world.blue}, green: {world.green}}}
    listener: {world.listener}
    test_listener: {world.test_listener}
    image: {{container: app, uri: "registry.example/{name}:${{TAG}}"}}
strategy: {{all_at_once: {{}}}}
keep_old_for: 1m
checks: {{alarms: [{name}-5xx]}}
""")
    cli.env["TAG"] = "2"
    code, _, err = finish(cli.rollout(str(plan), "--yes", scale="30"))
    assert code == 0, err
    assert world.weights() == {"blue": 0, "green": 100}
    assert world.service("blue")["desiredCount"] == 0  # keep_old_for is over
    stable_definition = world.service("blue")["taskDefinition"]
    del cli.env["TAG"]  # an emergency needs only the target's identity
    result = cli.run("rollback", str(plan), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{name}: 100% on green") and "-> blue (" in result.stdout
    assert "(succeeded) replaced)" in result.stdout
    blue = world.service("blue")
    assert blue["desiredCount"] == 2 and blue["taskDefinition"] == stable_definition
    assert world.weights() == {"blue": 100, "green": 0}
    assert world.weights(world.test_listener).get("blue") == 100  # test traffic back too
    assert world.service("green")["desiredCount"] == 0  # the version rolled away from


def test_ecs_task_sets_deleted_after_keep_old_for_are_recreated_first(
        endpoint: str, tmp_path: Path, cli: Cli) -> None:
    world, plan = world_and_plan(endpoint, tmp_path, strategy="all_at_once: {}")
    (first,) = world.task_sets()
    code, _, err = finish(cli.rollout(plan, "--yes", scale="30"))
    assert code == 0, err
    (released,) = world.task_sets()  # the old one was deleted after keep_old_for
    assert released["colour"] == "green"
    result = cli.run("rollback", plan, timeout=120)
    assert result.returncode == 0, result.stderr
    assert world.weights() == {"blue": 100, "green": 0}
    (restored,) = world.task_sets()
    assert (restored["colour"], restored["status"]) == ("blue", "PRIMARY")
    assert restored["task_definition"] == first["task_definition"]
    # ... so that the next release starts from a service with one primary task set
    code, _, err = finish(cli.rollout(plan, "--yes", scale="30"))
    assert code == 0, err


def killed_mid_bake(endpoint: str, tmp_path: Path, cli: Cli) -> tuple[LambdaWorld, str, str]:
    """A Lambda canary whose runner was SIGKILLed mid-bake: the world, plan, run id."""
    world = lambda_world(endpoint)
    plan = lambda_plan(tmp_path, world, bake="30m")
    cli.env["NEW_VERSION"] = world.new
    process = cli.rollout(plan, "--yes")
    wait_until(lambda: world.alias_state() == (world.stable, {world.new: 0.1}))
    wait_until(lambda: (runs(cli) or [{}])[0].get("phase") == "BAKING")
    process.send_signal(signal.SIGKILL)
    finish(process)
    (dead,) = runs(cli)
    return world, plan, str(dead["run_id"])


def test_a_dead_run_is_listed_as_dead_and_ended_by_the_emergency_rollback(
        endpoint: str, tmp_path: Path, cli: Cli) -> None:
    world, plan, run_id = killed_mid_bake(endpoint, tmp_path, cli)
    expire_lease(cli, world, run_id)  # as when the runner died a while ago
    listed = cli.run("list")
    assert f"dead: its controller's lease expired and it holds its targets; end it with " \
           f"`deployer abort {run_id}`" in listed.stdout
    assert runs(cli)[0]["dead"] is True
    refused = cli.run("rollout", plan, "--yes")
    assert refused.returncode == 5
    assert f"run {run_id} holds lambda:" in refused.stderr
    assert f"its controller is dead (lease expired): end it with `deployer abort {run_id}`" \
           in refused.stderr and f"`deployer rollback {plan}`" in refused.stderr
    result = cli.run("rollback", plan)
    assert result.returncode == 0, result.stderr
    assert f"-> version {world.stable} (the stable side of run {run_id} (its controller is " \
           "dead))" in result.stdout
    assert f"run {run_id} (its controller was dead) ended: aborted" in result.stderr
    assert world.alias_state() == (world.stable, {})
    document = json.loads(cli.run("status", run_id, "--json").stdout)
    assert (document["outcome"], document["phase"]) == ("aborted", "ABORTED")
    assert "emergency rollback" in document["reason"]
    assert runs(cli) == []  # nothing active, nothing dead
    code, _, err = finish(cli.rollout(plan, "--yes", "--set", "strategy={all_at_once: {}}",
                                  "--set", "keep_old_for=0s"))
    assert code == 0, err  # the next release starts at once
    assert world.alias_state() == (world.new, {})


def test_abort_of_a_dead_run_whose_traffic_is_already_back_is_not_drift(
        endpoint: str, tmp_path: Path, cli: Cli) -> None:
    world, plan, run_id = killed_mid_bake(endpoint, tmp_path, cli)
    client("lambda", endpoint, "us-east-1").update_alias(  # someone restores it by hand
        FunctionName=world.function, Name="live", RoutingConfig={"AdditionalVersionWeights": {}})
    expire_lease(cli, world, run_id)
    aborted = cli.run("abort", run_id)
    assert aborted.returncode == 0, aborted.stderr
    document = json.loads(cli.run("status", run_id, "--json").stdout)
    assert document["outcome"] == "aborted", document["reason"]
    assert not document["reason"].startswith("drift")
    assert world.alias_state() == (world.stable, {})
    code, _, err = finish(cli.rollout(plan, "--yes", "--set", "strategy={all_at_once: {}}",
                                  "--set", "keep_old_for=0s"))
    assert code == 0, err
