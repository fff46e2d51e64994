"""Whole applications (SPEC §8) through the real CLI against a ThreadedMotoServer on
127.0.0.1: several targets in waves released as one unit, and every failure leaving
every target on its stable version."""

from __future__ import annotations

import itertools
import json
import signal
from pathlib import Path
from typing import Any

import pytest

from deployer.demo.ecs_world import EcsWorld, create_ecs_world
from deployer.demo.world import LambdaWorld, create_lambda_world
from tests.e2e import Cli, finish, wait_until

NAMES = (f"app{i}" for i in itertools.count())


def lambdas(endpoint: str, count: int) -> list[LambdaWorld]:
    return [create_lambda_world(endpoint, function=next(NAMES),
                                alarms=(f"{next(NAMES)}-errors",)) for _ in range(count)]


def lambda_entry(world: LambdaWorld, own_alarm: bool = True) -> str:
    alarms = f", alarms: [{world.alarms[0]}]" if own_alarm else ""
    return (f"{{lambda: {{function: {world.function}, alias: live, "
            f"version: \"{world.new}\"}}{alarms}}}")


def write(tmp_path: Path, name: str, targets: dict[str, str], waves: str = "",
          strategy: str = "canary: {weight: 10, bake: 1m}", extra: str = "") -> str:
    lines = ["version: 1", f"name: {name}", "targets:"]
    lines += [f"  {key}: {entry}" for key, entry in targets.items()]
    if waves:
        lines.append(f"waves: {waves}")
    lines += [f"strategy: {{{strategy}}}", "final_bake: 30s",
              "checks: {poll_every: 5s}", extra]
    path = tmp_path / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def all_stable(worlds: list[LambdaWorld]) -> bool:
    return all(w.alias_state() == (w.stable, {}) for w in worlds)


def active(cli: Cli) -> dict[str, Any]:
    runs = json.loads(cli.run("list", "--json").stdout or "[]")
    return dict(runs[0]) if runs else {}


@pytest.mark.slow  # make soak: tests/test_e2e_regions.py releases four targets in waves
def test_three_lambdas_in_two_waves(endpoint: str, tmp_path: Path, cli: Cli) -> None:
    a, b, c = lambdas(endpoint, 3)
    plan = write(tmp_path, "shop", {"a": lambda_entry(a), "b": lambda_entry(b),
                                    "c": lambda_entry(c)}, waves="[[a, b], [c]]")
    offline = cli.run("plan", plan)
    assert "wave 2: the steps below" in offline.stdout
    code, _, err = finish(cli.rollout(plan, scale="30"))
    assert code == 0, err
    assert all(w.alias_state() == (w.new, {}) for w in (a, b, c))
    report = cli.report_document()
    assert report["outcome"] == "succeeded"
    assert report["weight"] == 100
    assert set(report["targets"]) == {"a", "b", "c"}
    assert report["targets"]["c"]["new_version"] == c.new
    assert report["targets"]["a"]["wave"] == 1 and report["targets"]["c"]["wave"] == 2
    messages = [e["message"] for e in report["events"]]
    wave_two = messages.index("wave 2 of 2: c")
    assert any(m.startswith("final bake 30s started") for m in messages[:wave_two])
    status = cli.run("status", report["run_id"]).stdout
    assert "wave 1" in status and "wave 2" in status
    assert any(line.split()[:4] == ["c", "lambda", "us-east-1", "100%"]
               for line in status.splitlines())


def test_a_lambda_and_an_ecs_service_in_one_wave(endpoint: str, tmp_path: Path,
                                                 cli: Cli) -> None:
    (fn,) = lambdas(endpoint, 1)
    name = next(NAMES)
    ecs: EcsWorld = create_ecs_world(endpoint, name=name, alarms=(f"{name}-5xx",))
    web = (f"{{ecs: {{cluster: {ecs.cluster}, services: {{blue: {ecs.blue}, green: {ecs.green}}},"
           f" listener: {ecs.listener}, image: {{container: app, uri: \"r/{name}:2\"}}}}, "
           f"alarms: [{ecs.alarms[0]}]}}")
    plan = write(tmp_path, "mixed", {"api": lambda_entry(fn), "web": web})
    code, _, err = finish(cli.rollout(plan))
    assert code == 0, err
    assert fn.alias_state() == (fn.new, {})
    assert ecs.weights() == {"blue": 0, "green": 100}
    report = cli.report_document()
    assert report["targets"]["web"]["kind"] == "ecs"
    assert report["targets"]["api"]["kind"] == "lambda"


def test_an_alarm_of_a_wave_two_target_rolls_back_wave_one_too(endpoint: str, tmp_path: Path,
                                                               cli: Cli) -> None:
    a, b, c = lambdas(endpoint, 3)
    plan = write(tmp_path, "roll", {"a": lambda_entry(a), "b": lambda_entry(b),
                                    "c": lambda_entry(c)}, waves="[[a, b], [c]]",
                 strategy="canary: {weight: 10, bake: 10m}")
    process = cli.rollout(plan, scale="30")
    wait_until(lambda: a.alias_state() == (a.stable, {a.new: 0.1}), seconds=60)
    wait_until(lambda: active(cli).get("phase") == "BAKING", seconds=30)
    assert cli.run("promote", active(cli)["run_id"]).returncode == 0  # wave 1's bake: cut
    wait_until(lambda: c.alias_state() == (c.stable, {c.new: 0.1}), seconds=60)
    assert a.alias_state() == (a.new, {}) and b.alias_state() == (b.new, {})
    c.set_alarm(c.alarms[0], "ALARM")
    code, _, err = finish(process)
    assert code == 3, err
    assert all_stable([a, b, c])
    report = cli.report_document()
    assert report["reason"] == f"alarm {c.alarms[0]} is in ALARM"
    assert {t["weight"] for t in report["targets"].values()} == {0}


def test_abort_rolls_back_every_target(endpoint: str, tmp_path: Path, cli: Cli) -> None:
    a, b = lambdas(endpoint, 2)
    plan = write(tmp_path, "stop", {"a": lambda_entry(a), "b": lambda_entry(b)},
                 strategy="canary: {weight: 10, bake: 30m}")
    process = cli.rollout(plan)
    wait_until(lambda: b.alias_state()[1] != {} and a.alias_state()[1] != {})
    run = active(cli)
    assert cli.run("abort", run["run_id"], "--reason", "not today").returncode == 0
    code, _, err = finish(process)
    assert code == 4, err
    assert all_stable([a, b])


def test_a_target_held_by_another_run_refuses_the_whole_run(endpoint: str, tmp_path: Path,
                                                            cli: Cli) -> None:
    a, b = lambdas(endpoint, 2)
    single = tmp_path / "single.yaml"
    single.write_text(f"""\
version: 1
name: solo
target:
  lambda: {{function: {a.function}, alias: live, version: "{a.new}"}}
strategy: {{canary: {{weight: 10, bake: 30m}}}}
checks: {{alarms: [{a.alarms[0]}], poll_every: 5s}}
""")
    holder = cli.rollout(str(single))
    wait_until(lambda: a.alias_state()[1] != {})
    plan = write(tmp_path, "both", {"a": lambda_entry(a), "b": lambda_entry(b)})
    refused = cli.run("rollout", plan, "--report", str(tmp_path / "refused.json"))
    assert refused.returncode == 5, refused.stderr
    assert f"holds lambda:us-east-1:{a.function}:live" in refused.stderr
    assert "run solo-" in refused.stderr
    assert b.alias_state() == (b.stable, {})
    holder.send_signal(signal.SIGTERM)
    assert finish(holder)[0] == 4


@pytest.mark.slow  # make soak: the kill matrix takes over applications in make test
def test_a_killed_application_run_is_resumed(endpoint: str, tmp_path: Path, cli: Cli) -> None:
    a, b, c = lambdas(endpoint, 3)
    plan = write(tmp_path, "crash", {"a": lambda_entry(a), "b": lambda_entry(b),
                                     "c": lambda_entry(c)}, waves="[[a], [b, c]]",
                 strategy="canary: {weight: 10, bake: 2m}")
    process = cli.rollout(plan, scale="30")
    wait_until(lambda: b.alias_state()[1] != {}, seconds=60)
    process.send_signal(signal.SIGKILL)
    finish(process)
    run = active(cli)
    resumed = cli.run("resume", run["run_id"], "--force", timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert all(w.alias_state() == (w.new, {}) for w in (a, b, c))


@pytest.mark.parametrize("store", ["file", "none"])
def test_emergency_rollback_of_a_whole_application(endpoint: str, tmp_path: Path, cli: Cli,
                                                   store: str) -> None:
    a, b = lambdas(endpoint, 2)
    plan = write(tmp_path, f"sos{store}", {"a": lambda_entry(a), "b": lambda_entry(b)},
                 strategy="canary: {weight: 10, bake: 30m}")
    process = cli.rollout(plan)
    wait_until(lambda: b.alias_state()[1] != {} and a.alias_state()[1] != {})
    if store == "none":
        cli.env["DEPLOYER_STORE"] = f"file://{tmp_path / 'lost'}"
    result = cli.run("rollback", plan)
    assert result.returncode == 0, result.stderr
    assert any(line.startswith("a: ") and f"version {a.stable} (" in line
               for line in result.stdout.splitlines()), result.stdout
    assert all_stable([a, b])
    process.send_signal(signal.SIGTERM)
    finish(process)
