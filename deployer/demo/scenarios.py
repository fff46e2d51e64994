"""`deployer demo`: a full rollout against a local AWS started inside this process.

Each scenario creates what it needs, writes and prints the plan it uses, and runs
it through exactly the same code path as `deployer rollout`, time-scaled so it
ends within about half a minute: `canary` succeeds, `rollback` flips an alarm
mid-bake, `approval` waits at a gate, `ecs` releases a Fargate service.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

from deployer.core.ports import Store
from deployer.core.record import Outcome, Phase
from deployer.core.settings import Settings
from deployer.demo.ecs_world import create_ecs_world
from deployer.demo.server import local_aws, use_fake_credentials
from deployer.demo.world import create_lambda_world
from deployer.display.progress import say
from deployer.errors import ExitCode
from deployer.plan.durations import format_duration
from deployer.plan.loader import load_plan
from deployer.runs.operator import submit
from deployer.runs.rollout import RolloutOptions, rollout
from deployer.store import open_store

REGION = "us-east-1"
TIME_SCALE = 30.0

LAMBDA_PLAN = """\
version: 1
name: checkout
target:
  lambda: {{function: checkout, alias: live, version: "{version}"}}
strategy:
{strategy}
final_bake: 2m
checks:
  alarms: [checkout-errors]
  poll_every: 10s
deadline: 1h
"""

ECS_PLAN = """\
version: 1
name: storefront
target:
  ecs:
    cluster: storefront
    services: {{blue: storefront-blue, green: storefront-green}}
    listener: {listener}
    test_listener: {test_listener}
    image: {{container: app, uri: "registry.example/storefront:2"}}
    healthy_within: 5m
strategy:
  linear: {{step: 25, every: 1m}}
final_bake: 1m
keep_old_for: 1m
checks:
  alarms: [storefront-5xx]
  poll_every: 10s
"""


@dataclass(frozen=True, slots=True)
class Scenario:
    title: str
    expected: Outcome
    strategy: str = ""


SCENARIOS: dict[str, Scenario] = {
    "canary": Scenario("a Lambda canary: 10% for 5 minutes, then 100%", Outcome.SUCCEEDED,
                       "  canary: {weight: 10, bake: 5m}"),
    "rollback": Scenario("a Lambda canary whose alarm fires mid-bake", Outcome.ROLLED_BACK,
                         "  canary: {weight: 10, bake: 10m}"),
    "approval": Scenario("a Lambda release with a manual gate at 10%", Outcome.SUCCEEDED,
                         "  steps:\n    - shift: 10\n    - bake: 1m\n"
                         "    - approve: {timeout: 30m}\n    - shift: 50\n    - bake: 1m\n"
                         "    - shift: 100"),
    "ecs": Scenario("an ECS/Fargate blue/green release, 25% a minute", Outcome.SUCCEEDED),
}


def _when(condition: Callable[[], bool], then: Callable[[], None], seconds: float = 60) -> None:
    """In the background: once `condition` holds, do `then` (the demo's 'other operator')."""
    def watch() -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if condition():
                    then()
                    return
            except Exception:  # the demo world may be gone already
                return
            time.sleep(0.2)

    threading.Thread(target=watch, daemon=True, name="demo-driver").start()


def run_demo(name: str, *, live: bool, interactive: bool, time_scale: float = TIME_SCALE
             ) -> int:
    scenario = SCENARIOS[name]
    use_fake_credentials(REGION)
    click.echo(f"deployer demo: {name} — {scenario.title}")
    click.echo("starting a local AWS (moto) on 127.0.0.1 …")
    with local_aws() as endpoint, tempfile.TemporaryDirectory(prefix="deployer-demo-") as tmp:
        settings = Settings(store=f"file://{tmp}/store", endpoint_url=endpoint, region=REGION)
        store = open_store(settings.store, settings)
        if name == "ecs":
            ecs = create_ecs_world(endpoint, REGION, name="storefront",
                                   alarms=("storefront-5xx",))
            text = ECS_PLAN.format(listener=ecs.listener, test_listener=ecs.test_listener)
        else:
            world = create_lambda_world(endpoint, REGION)
            text = LAMBDA_PLAN.format(version=world.new, strategy=scenario.strategy)
            if name == "rollback":
                def fire() -> None:
                    time.sleep(60 / time_scale)  # one plan minute into the bake
                    say("\n>>> the new version misbehaves: checkout-errors goes to ALARM")
                    world.set_alarm("checkout-errors", "ALARM")

                _when(lambda: bool(world.alias_state()[1]), fire)
            if name == "approval" and not interactive:
                _when(lambda: _waiting(store),
                      lambda: _approve(store, settings, pause=60 / time_scale))
        plan = Path(tmp) / f"{name}.yaml"
        plan.write_text(text)
        click.echo(f"\nthe plan ({plan}):\n")
        click.echo(text)
        click.echo(f"running it at --time-scale {time_scale:g} (a 5m bake takes "
                   f"{format_duration(300 / time_scale)}):\n")
        record = rollout(load_plan(str(plan)), settings, RolloutOptions(
            time_scale=time_scale, live=live, prompt=interactive and name == "approval"))
    assert record is not None
    click.echo(f"\noutcome: {record.outcome.value if record.outcome else '?'} "
               f"(exit code {record.exit_code}; expected: {scenario.expected.value})")
    _next_steps(name)
    return ExitCode.SUCCEEDED if record.outcome == scenario.expected else ExitCode.UNEXPECTED


def _waiting(store: Store) -> bool:
    return any(r.phase == Phase.AWAITING_APPROVAL for r in store.runs())


def _approve(store: Store, settings: Settings, pause: float) -> None:
    run = next(r for r in store.runs() if r.phase == Phase.AWAITING_APPROVAL)
    say(f"\n>>> an operator approves from another terminal:\n    deployer approve "
        f"{run.run_id} --store {settings.store} --reason 'dashboards look fine'")
    time.sleep(pause)
    submit(store, run.run_id, "approve", "demo-operator", "dashboards look fine")


def _next_steps(name: str) -> None:
    others = [s for s in SCENARIOS if s != name]
    click.echo("\nwhat to try next:")
    for other in others:
        click.echo(f"  deployer demo --scenario {other:<9} # {SCENARIOS[other].title}")
    click.echo("  deployer plan configs/custom-steps-approval.yaml   # a timeline, offline")
    click.echo("  deployer validate configs/*.yaml                   # every problem, at once")
    click.echo("  docs/rollout.md, docs/operator-guide.md, docs/ci.md")
