"""Auto Scaling blue/green on the Step Functions engine (SPEC §15), end to end on a
moto server that runs state machines (tests/sfn_moto.py): `rollout` prepares the
idle group and hands over; the machine shifts the listener's weights, and retires
the old group (or, on a rollback, the new one) with autoscaling:updateAutoScalingGroup."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from deployer.demo.more_worlds import AsgWorld
from tests import test_e2e_asg as asg
from tests import test_e2e_stepfunctions as sfn
from tests.asg_moto import instance_versions  # noqa: F401  (moto: launched versions)
from tests.e2e import Cli, wait_until
from tests.test_e2e_stepfunctions import follow, messages, start

# The machine-running server, the CLI on DynamoDB, an Auto Scaling world on that server.
endpoint, cli, world = sfn.endpoint, sfn.cli, asg.world

PLAN = """\
version: 1
name: {name}
target:
  asg:
    groups: {{blue: {blue}, green: {green}}}
    listener: {listener}
    launch_template: {{name: {template}, version: "2"}}
strategy: {{canary: {{weight: 20, bake: {bake}}}}}
checks: {{alarms: [{alarm}], poll_every: 1s}}
keep_old_for: 1s
"""


@pytest.fixture
def plan_file(tmp_path: Path) -> Callable[..., str]:
    def write(world: AsgWorld, bake: str = "2s") -> str:
        path = tmp_path / "plan.yaml"
        path.write_text(PLAN.format(name=world.blue.removesuffix("-blue"), blue=world.blue,
                                    green=world.green, listener=world.listener,
                                    template=world.template, bake=bake, alarm=world.alarms[0]))
        return str(path)

    return write


def test_the_machine_releases_the_new_group_and_retires_the_old(
        world: AsgWorld, plan_file: Callable[..., str], cli: Cli) -> None:
    run_id = start(cli, plan_file(world))
    code, document = follow(cli, run_id)
    assert code == 0, document
    assert world.weights() == {"blue": 0, "green": 100}
    assert world.capacity("green") == 2 and world.capacity("blue") == 0
    assert "shifted to 20% (read back)" in messages(document)


def test_an_alarm_in_the_machine_scales_the_new_group_to_zero(
        world: AsgWorld, plan_file: Callable[..., str], cli: Cli) -> None:
    run_id = start(cli, plan_file(world, bake="60s"))
    wait_until(lambda: world.weights() == {"blue": 80, "green": 20}, 30)
    world.set_alarm(world.alarms[0], "ALARM")
    code, document = follow(cli, run_id)
    assert code == 3, document
    assert world.weights() == {"blue": 100, "green": 0}
    assert world.capacity("green") == 0 and world.capacity("blue") == 2
