"""Route 53 weighted records end to end (SPEC §15): the real CLI against a
ThreadedMotoServer, whose Route 53 stores weighted records and reads them back
exactly."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from deployer.demo.more_worlds import Route53World, create_route53_world
from deployer.demo.world import client
from tests.asg_moto import instance_versions  # noqa: F401  (moto: launched versions)
from tests.e2e import Cli, finish, wait_until

NAMES = (f"api{i}" for i in itertools.count())

PLAN = """\
version: 1
name: {label}
target:
  route53: {{zone: {zone}, name: {name}, type: A, records: {{blue: {blue}, green: {green}}}}}
strategy: {{linear: {{step: 25, every: {bake}}}}}
checks: {{alarms: [{alarm}], poll_every: 5s}}
"""


@pytest.fixture
def world(endpoint: str) -> Route53World:
    label = next(NAMES)
    return create_route53_world(endpoint, label=label, alarms=(f"{label}-5xx",))


@pytest.fixture
def plan_for(tmp_path: Path) -> Callable[..., str]:
    def write(world: Route53World, bake: str = "60s") -> str:
        path = tmp_path / "plan.yaml"
        path.write_text(PLAN.format(label=world.blue.removesuffix("-blue"), zone=world.zone,
                                    name=world.name.rstrip("."), blue=world.blue,
                                    green=world.green, bake=bake, alarm=world.alarms[0]))
        return str(path)

    return write


def test_a_linear_release_moves_the_answers_to_the_other_record(
        world: Route53World, plan_for: Callable[..., str], cli: Cli) -> None:
    code, _, err = finish(cli.rollout(plan_for(world)))
    assert code == 0, err
    assert world.weights() == {world.blue: 0, world.green: 100}
    report = cli.report_document()
    shifted = [e["message"] for e in report["events"] if e["message"].startswith("shifted")]
    assert [m.split(" (")[0] for m in shifted] == ["shifted to 25%", "shifted to 50%",
                                                   "shifted to 75%", "shifted to 100%"]
    assert f"weights {world.green} 25, {world.blue} 75" in shifted[0]
    assert (report["target"]["stable_version"], report["target"]["new_version"]) == \
        (world.blue, world.green)
    assert report["target"]["ttl"] == 60
    assert "warnings" not in report  # every bake (60s) is as long as the TTL
    # an emergency rollback puts the answers back on the record the release replaced
    back = cli.run("rollback", plan_for(world))
    assert back.returncode == 0, back.stderr
    assert world.weights() == {world.blue: 100, world.green: 0}


def test_an_alarm_puts_every_answer_back_and_a_short_bake_is_warned(
        world: Route53World, plan_for: Callable[..., str], cli: Cli) -> None:
    process = cli.rollout(plan_for(world, bake="10m"))
    wait_until(lambda: world.weights() == {world.blue: 75, world.green: 25})
    world.set_alarm(world.alarms[0], "ALARM")
    code, _, err = finish(process)
    assert code == 3, err
    assert world.weights() == {world.blue: 100, world.green: 0}
    short = cli.run("rollout", plan_for(world, bake="20s"), "--dry-run", "--strict")
    assert short.returncode == 2
    assert "target.route53: the records' TTL is 60s but the shortest bake is 20s" in \
        short.stderr


def test_records_that_are_not_a_weighted_pair_are_refused(
        world: Route53World, plan_for: Callable[..., str], cli: Cli) -> None:
    route53 = client("route53", world.endpoint, world.region)
    route53.change_resource_record_sets(HostedZoneId=world.zone, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": world.name, "Type": "A", "SetIdentifier": "stray", "Weight": 5,
            "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.99"}]}}]})
    result = cli.run("rollout", plan_for(world), "--time-scale", "20")
    assert result.returncode == 5, result.stderr
    assert "has other records beside the pair (stray)" in result.stderr
    assert world.weights()[world.blue] == 100


def test_step_functions_refuses_route53(world: Route53World, plan_for: Callable[..., str],
                                        cli: Cli) -> None:
    result = cli.run("validate", plan_for(world), "--engine", "stepfunctions")
    assert result.returncode == 2
    assert "target.route53: the stepfunctions engine does not release Route 53" in result.stderr


def test_an_application_of_lambda_auto_scaling_and_dns_rolls_back_as_one(
        endpoint: str, world: Route53World, cli: Cli, tmp_path: Path) -> None:
    from deployer.demo.more_worlds import create_asg_world
    from deployer.demo.world import create_lambda_world

    fn = create_lambda_world(endpoint, function="edge-fn", alarms=())
    web = create_asg_world(endpoint, name="edgeweb", alarms=())
    plan = tmp_path / "app.yaml"
    plan.write_text(f"""version: 1
name: edge
targets:
  fn: {{lambda: {{function: {fn.function}, alias: live, version: "{fn.new}"}}}}
  web:
    asg:
      groups: {{blue: {web.blue}, green: {web.green}}}
      listener: {web.listener}
      launch_template: {{name: {web.template}, version: "2"}}
  dns:
    route53: {{zone: {world.zone}, name: {world.name}, type: A,
               records: {{blue: {world.blue}, green: {world.green}}}}}
waves: [[fn, web], [dns]]
strategy: {{steps: [{{shift: 10}}, {{approve: {{timeout: 1h}}}}, {{shift: 100}}]}}
checks: {{alarms: [{world.alarms[0]}], poll_every: 5s}}
""")
    process = cli.rollout(str(plan))
    wait_until(lambda: web.weights() == {"blue": 90, "green": 10}, 60)  # wave 1 at its gate
    listed = json.loads(cli.run("list", "--json").stdout)
    assert cli.run("approve", listed[0]["run_id"]).returncode == 0
    # wave 1 done (fn and web at 100%), wave 2 at 10% at its gate: then the alarm
    wait_until(lambda: world.weights() == {world.blue: 90, world.green: 10}, 60)
    assert web.weights() == {"blue": 0, "green": 100}
    world.set_alarm(world.alarms[0], "ALARM")
    code, _, err = finish(process)
    assert code == 3, err
    assert world.weights() == {world.blue: 100, world.green: 0}
    assert web.weights() == {"blue": 100, "green": 0}
    assert fn.alias_state() == (fn.stable, {})
    assert web.capacity("green") == 0 and web.capacity("blue") == 2
    report = cli.report_document()
    assert {name: t["kind"] for name, t in report["targets"].items()} == \
        {"fn": "lambda", "web": "asg", "dns": "route53"}
