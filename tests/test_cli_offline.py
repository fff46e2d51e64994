"""The offline commands through the real CLI: validate, plan, schema, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from deployer.plan.schema import plan_schema_text
from tests.conftest import MINIMAL_LAMBDA_PLAN, ROOT, run_cli

EXAMPLES = sorted((ROOT / "configs").glob("*.yaml"))


def test_there_are_at_least_six_examples() -> None:
    assert len(EXAMPLES) >= 6


def test_every_example_validates() -> None:
    result = run_cli("validate", *map(str, EXAMPLES))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": ok (") == len(EXAMPLES)


def test_examples_reference_the_committed_schema() -> None:
    for example in EXAMPLES:
        assert example.read_text().startswith("# yaml-language-server: $schema=./schema.json")


def test_committed_schema_is_in_sync() -> None:
    committed = (ROOT / "configs" / "schema.json").read_text()
    assert committed == plan_schema_text(), "run `make schema` to refresh configs/schema.json"


def test_schema_command_prints_the_schema() -> None:
    result = run_cli("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "deployer release plan (version 1)"
    assert {"version", "name", "strategy"} <= set(schema["required"])
    one_of = [group["oneOf"] for group in schema.get("allOf", [])]
    assert [{"required": ["target"]}, {"required": ["targets"]}] in one_of


def test_validate_reports_all_problems_and_exits_2(write_plan: Callable[..., str]) -> None:
    good = write_plan(MINIMAL_LAMBDA_PLAN)
    bad = write_plan(MINIMAL_LAMBDA_PLAN.replace("weight: 10", "weight: 0")
                     .replace("alias: live", "alias: 42"))
    result = run_cli("validate", good, bad)
    assert result.returncode == 2
    assert f"{good}: ok (checkout-api: canary, 3 steps, 5m of bakes)" in result.stdout
    assert result.stderr.splitlines() == [
        f"{bad}:6:12: target.lambda.alias: an alias name cannot be all digits "
        "(that is a version number)",
        f"{bad}:10:20: strategy.canary.weight: weight 0 is out of range: it must be above 0 "
        "and at most 100",
    ]
    assert "Traceback" not in result.stderr


def test_validate_with_set(write_plan: Callable[..., str]) -> None:
    path = write_plan(MINIMAL_LAMBDA_PLAN)
    result = run_cli("validate", path, "--set", "strategy.canary.weight=200")
    assert result.returncode == 2
    assert result.stderr.startswith("--set:1:24: strategy.canary.weight: weight 200 is out")


def test_plan_json_timeline(write_plan: Callable[..., str]) -> None:
    path = write_plan(MINIMAL_LAMBDA_PLAN + "final_bake: 10m\n")
    result = run_cli("plan", path, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "name": "checkout-api",
        "strategy": "canary",
        "steps": [
            {"kind": "shift", "weight": 10, "at": 0},
            {"kind": "bake", "seconds": 300, "at": 0},
            {"kind": "shift", "weight": 100, "at": 300},
        ],
        "bake_seconds": 300,
        "final_bake_seconds": 600,
        "keep_old_seconds": 0,
        "hooks_timeout_seconds": 0,
        "total_seconds": 900,
    }


def test_plan_json_with_preset_and_approval(write_plan: Callable[..., str]) -> None:
    preset = write_plan(MINIMAL_LAMBDA_PLAN.replace(
        "canary: {weight: 10, bake: 5m}",
        "preset: CodeDeployDefault.LambdaLinear10PercentEvery1Minute"))
    document = json.loads(run_cli("plan", preset, "--json").stdout)
    assert document["strategy"] == "preset"
    assert document["preset"] == "LambdaLinear10PercentEvery1Minute"
    assert [s["at"] for s in document["steps"] if s["kind"] == "shift"] == [
        60 * i for i in range(10)]
    gated = json.loads(run_cli("plan", str(ROOT / "configs/custom-steps-approval.yaml"),
                               "--json").stdout)
    assert gated["steps"][2] == {"kind": "approve", "timeout_seconds": 3600,
                                 "on_timeout": "rollback", "at": 120}
    assert gated["total_seconds"] == 12 * 60 + 10 * 60


def test_plan_text_timeline() -> None:
    result = run_cli("plan", str(ROOT / "configs/custom-steps-approval.yaml"))
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "payments-api: steps on lambda payments-api:live -> version 7"
    assert any("approve (timeout 1h, then rollback)" in line for line in lines)
    assert lines[-1].strip() == ("total 22m (12m of bakes, 10m final bake) plus 1 approval "
                                 "and 1 hook (up to 5m); deadline 3h; 2 alarms polled every "
                                 "10s")
    assert any("12m  after_traffic hook (≤ 5m): command ./scripts/verify-payments.sh" in line
               for line in lines)


def test_plan_tells_the_whole_timeline_hooks_and_keep_old_included(
        write_plan: Callable[..., str]) -> None:
    """5m of bakes, a 10m final bake and 30m of keep-old is a 45-minute run."""
    path = write_plan(MINIMAL_LAMBDA_PLAN + """\
final_bake: 10m
keep_old_for: 30m
hooks:
  before_traffic: [{lambda: checkout-smoke}]
  after_traffic: [{http: {url: "https://x.example/health", timeout: 20s}}]
""")
    lines = run_cli("plan", path).stdout.splitlines()
    steps = [line[12:].split("█")[0].split("░")[0].strip() for line in lines[3:-2]]
    ats = [line[:10].strip() for line in lines[3:-2]]
    assert list(zip(ats, steps, strict=True)) == [
        ("0s", "before_traffic hook (≤ 1h): lambda checkout-smoke"),
        ("0s", "shift to 10%"), ("0s", "bake 5m"), ("5m", "shift to 100%"),
        ("5m", "after_traffic hook (≤ 20s): http GET https://x.example/health"),
        ("5m", "final bake 10m"),
        ("15m", "keep the old version 30m (alarms still watched)"),
        ("45m", "retire the old version: done")]
    assert lines[-1].strip().startswith("total 45m (5m of bakes, 10m final bake, 30m keeping "
                                        "the old version) plus 2 hooks (up to 1h20s)")
    document = json.loads(run_cli("plan", path, "--json").stdout)
    assert document["total_seconds"] == 45 * 60
    assert document["keep_old_seconds"] == 30 * 60
    assert document["steps"][0] == {"kind": "hook", "stage": "before_traffic",
                                    "hook": "lambda checkout-smoke", "timeout_seconds": 3600,
                                    "at": 0}
    assert document["steps"][-1]["stage"] == "after_traffic"
    assert document["steps"][-1]["at"] == 300


@pytest.mark.parametrize(("sam_type", "preset", "shifts"), [
    ("Canary10Percent5Minutes", "LambdaCanary10Percent5Minutes", [0, 300]),
    ("Linear10PercentEvery2Minutes", "LambdaLinear10PercentEvery2Minutes",
     [120 * i for i in range(10)]),
    ("AllAtOnce", "LambdaAllAtOnce", [0]),
    ("CodeDeployDefault.Canary10Percent30Minutes", "LambdaCanary10Percent30Minutes", [0, 1800]),
])
def test_sam_deployment_preference_types_are_presets(write_plan: Callable[..., str],
                                                     sam_type: str, preset: str,
                                                     shifts: list[int]) -> None:
    path = write_plan(MINIMAL_LAMBDA_PLAN.replace("canary: {weight: 10, bake: 5m}",
                                                  f"preset: {sam_type}"))
    assert run_cli("validate", path).returncode == 0
    document = json.loads(run_cli("plan", path, "--json").stdout)
    assert document["preset"] == preset
    assert [s["at"] for s in document["steps"] if s["kind"] == "shift"] == shifts


@pytest.mark.parametrize(("kind", "first"), [("lambda", "LambdaLinear10PercentEvery3Minutes"),
                                             ("ecs", "ECSLinear10PercentEvery3Minutes")])
def test_preset_suggestions_prefer_the_plans_target_kind(write_plan: Callable[..., str],
                                                         kind: str, first: str) -> None:
    text = MINIMAL_LAMBDA_PLAN.replace("canary: {weight: 10, bake: 5m}",
                                       "preset: Linear10PercentEvery3Minute")
    if kind == "ecs":
        text = text.replace("""  lambda:
    function: checkout-api
    alias: live
    version: "42"
""", """  ecs:
    cluster: c
    services: {blue: b, green: g}
    listener: arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/a/1/2
    task_definition: t:1
""")
    result = run_cli("validate", write_plan(text))
    assert result.returncode == 2
    assert f"did you mean {first}," in result.stderr


def test_invalid_plan_for_plan_command_exits_2(write_plan: Callable[..., str]) -> None:
    result = run_cli("plan", write_plan("version: 1\n"))
    assert result.returncode == 2
    assert "name: required field is missing" in result.stderr


def test_usage_errors_exit_2() -> None:
    assert run_cli("validate").returncode == 2
    assert run_cli("no-such-command").returncode == 2
    assert run_cli("plan", "x.yaml", "--bogus").returncode == 2


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("deployer, version ")


def test_iam_policy_is_offline_json() -> None:
    result = run_cli("iam-policy", str(ROOT / "configs/lambda-canary.yaml"), "--store",
                     "dynamodb://runs")
    assert result.returncode == 0, result.stderr
    policy = json.loads(result.stdout)
    sids = [s["Sid"] for s in policy["Statement"]]
    assert sids == ["ShiftAliasWeights", "ReadAlarms", "InvokeHooks", "Notify", "RunStore"]
    alarms = next(s for s in policy["Statement"] if s["Sid"] == "ReadAlarms")
    assert alarms["Resource"] == ["arn:aws:cloudwatch:eu-west-1:*:alarm:checkout-5xx",
                                  "arn:aws:cloudwatch:eu-west-1:*:alarm:checkout-p99"]


def test_offline_commands_never_import_boto3_or_the_dashboard_extra(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from deployer.cli.main import main\n"
        "try:\n"
        f"    main(['validate', {str(EXAMPLES[0])!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('boto3', 'botocore', 'moto', 'jinja2', 'starlette', "
        "'uvicorn') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def _stored_run(tmp_path: Path) -> Path:
    from deployer.core.record import RunRecord
    from deployer.store.file_store import FileStore

    FileStore(tmp_path / "store").create(RunRecord(
        run_id="app-1", plan_name="app", target_key="k", target={"kind": "lambda"}, plan={},
        started_at="2026-11-26T12:00:00Z"))
    return tmp_path / "store" / "runs" / "app-1.json"


@pytest.mark.parametrize("damage", ["truncate", "garbage", "not-an-object"])
def test_a_corrupt_store_file_is_named(tmp_path: Path, damage: str) -> None:
    path = _stored_run(tmp_path)
    text = path.read_text()
    path.write_text({"truncate": text[: len(text) // 2], "garbage": "\x00\x01{{{",
                     "not-an-object": "[1, 2]"}[damage])
    result = run_cli("status", "app-1", "--store", f"file://{tmp_path / 'store'}")
    assert result.returncode == 1
    assert f"the store file {path} is corrupt" in result.stderr
    assert "Traceback" not in result.stderr


def test_status_of_an_unknown_run(tmp_path: Path) -> None:
    _stored_run(tmp_path)
    result = run_cli("status", "nope", "--store", f"file://{tmp_path / 'store'}")
    assert result.returncode == 2
    assert "no run 'nope'" in result.stderr


def test_status_text(tmp_path: Path) -> None:
    _stored_run(tmp_path)
    result = run_cli("status", "--store", f"file://{tmp_path / 'store'}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "run      app-1"


def test_plan_shows_the_analysis_settings(write_plan: Callable[..., str]) -> None:
    path = write_plan(MINIMAL_LAMBDA_PLAN.replace(
        "checks: {alarms: [checkout-api-errors]}",
        "checks: {metrics: {error_rate: {max: 2%, max_vs_stable: 2x}, latency: {max: 800ms}}, "
        "min_requests: 100, on_inconclusive: approve}"))
    lines = run_cli("plan", path).stdout.splitlines()
    assert lines[-2].strip().endswith("; analysis polled every 10s")
    assert lines[-1].strip() == (
        "analysis: error_rate max 2% and max 2x stable's; latency max 800ms; judged every poll "
        "over the last 5m (real time), at least 100 requests a version, else inconclusive -> "
        "approve")
    document = json.loads(run_cli("plan", path, "--json").stdout)
    assert document["analysis"] == {
        "metrics": {"error_rate": {"max_percent": 2, "max_vs_stable": 2},
                    "latency": {"max_ms": 800}},
        "window_seconds": 300, "min_requests": 100, "on_inconclusive": "approve"}


WATCHES_NOTHING = MINIMAL_LAMBDA_PLAN.replace("checks: {alarms: [checkout-api-errors]}",
                                              "checks: {poll_every: 5s}")


def test_a_plan_that_watches_nothing_is_valid_with_one_loud_warning(
        write_plan: Callable[..., str]) -> None:
    path = write_plan(WATCHES_NOTHING)
    for command in (("validate", path), ("plan", path), ("plan", path, "--json")):
        result = run_cli(*command)
        assert result.returncode == 0, result.stderr
        warnings = [line for line in result.stderr.splitlines() if "warning" in line]
        assert warnings == [f"{path}: warning: this release watches nothing (no checks.alarms, "
                            "checks.metrics or per-target alarms): only hooks, approvals, the "
                            "deadline and operators can stop it; add alarms or metrics so it "
                            "can roll back by itself (--strict refuses such a plan)"], command


def test_strict_turns_warnings_into_exit_2(write_plan: Callable[..., str]) -> None:
    quiet, loud = write_plan(MINIMAL_LAMBDA_PLAN), write_plan(WATCHES_NOTHING)
    result = run_cli("validate", "--strict", quiet, loud)
    assert result.returncode == 2
    assert f"{quiet}: ok (" in result.stdout
    assert f"{loud}: ok" not in result.stdout
    assert result.stderr.startswith(f"{loud}: warning: this release watches nothing")
    assert result.stderr.rstrip().endswith("[--strict]")
    refused = run_cli("rollout", "--strict", loud, "--store", "file:///nonexistent/never")
    assert refused.returncode == 2, refused.stderr
    assert "watches nothing" in refused.stderr


def test_per_target_alarms_count_as_watching(write_plan: Callable[..., str]) -> None:
    path = write_plan("""\
version: 1
name: shop
targets:
  cart: {lambda: {function: cart, alias: live, version: "3"}, alarms: [cart-5xx]}
  web: {lambda: {function: web, alias: live, version: "4"}}
strategy: {all_at_once: {}}
""")
    result = run_cli("validate", "--strict", path)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr


def test_override_window_needs_a_reason() -> None:
    plan = str(ROOT / "configs" / "lambda-canary.yaml")
    for args in (["--override-window"], ["--reason", "hotfix"],
                 ["--override-window", "--reason", "  "]):
        result = run_cli("rollout", plan, *args)
        assert result.returncode == 2, args
        assert "--override-window needs --reason TEXT" in result.stderr
