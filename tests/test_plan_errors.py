"""Broken plans: every problem at once, FILE:LINE:COL: path: message, never a traceback."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from deployer.errors import PlanError
from deployer.plan.loader import load_plan
from deployer.plan.source import MAX_BYTES, MAX_NODES
from tests.conftest import MINIMAL_LAMBDA_PLAN

WritePlan = Callable[..., str]


def problems_of(path: str, overrides: tuple[str, ...] = (),
                environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(PlanError) as caught:
        load_plan(path, overrides, environ=environ or {})
    return [line.removeprefix(path) for line in caught.value.problems]


def test_the_minimal_plan_is_valid(write_plan: WritePlan) -> None:
    loaded = load_plan(write_plan(MINIMAL_LAMBDA_PLAN), environ={})
    assert loaded.plan.target.lambda_ is not None
    assert loaded.plan.target.lambda_.version == "42"
    assert loaded.plan.checks.poll_every == 10


BROKEN = [
    # (what, plan text, expected problem lines without the file name)
    ("yaml syntax", "version: 1\nname: [a\n", [":3:1: YAML syntax: while parsing a flow sequence "
                                                "expected ',' or ']', but got '<stream end>'"]),
    ("tab indentation", "version: 1\n\tname: x\n",
     [":2:1: YAML syntax: while scanning for the next token found character '\\t' that "
      "cannot start any token"]),
    ("empty file", "", [":1:1: the plan is empty"]),
    ("only a comment", "# nothing\n", [":1:1: the plan is empty"]),
    ("not a mapping", "- a\n- b\n", [":1:1: the plan must be a mapping (key: value), not a list"]),
    ("unknown top-level key", MINIMAL_LAMBDA_PLAN + "deadlin: 1h\n",
     [":11:1: deadlin: unknown field 'deadlin'; did you mean 'deadline'?"]),
    ("unknown nested key", MINIMAL_LAMBDA_PLAN.replace("alias: live", "alais: live"),
     [":5:5: target.lambda.alias: required field is missing",
      ":6:5: target.lambda.alais: unknown field 'alais'; did you mean 'alias'?"]),
    ("wrong type", MINIMAL_LAMBDA_PLAN.replace("weight: 10", "weight: lots"),
     [":10:20: strategy.canary.weight: 'lots' is not a percentage; write e.g. 10 or 12.5"]),
    ("weight above 100", MINIMAL_LAMBDA_PLAN.replace(
        "canary: {weight: 10, bake: 5m}", "steps: [{shift: 150}]"),
     [":10:19: strategy.steps[0].shift: weight 150 is out of range: it must be above 0 "
      "and at most 100"]),
    ("weight zero", MINIMAL_LAMBDA_PLAN.replace("weight: 10", "weight: 0"),
     [":10:20: strategy.canary.weight: weight 0 is out of range: it must be above 0 and at "
      "most 100"]),
    ("canary at 100", MINIMAL_LAMBDA_PLAN.replace("weight: 10", "weight: 100"),
     [":10:20: strategy.canary.weight: input should be less than 100"]),
    ("decreasing weights", MINIMAL_LAMBDA_PLAN.replace(
        "  canary: {weight: 10, bake: 5m}\n",
        "  steps:\n    - shift: 50\n    - bake: 1m\n    - shift: 20\n    - shift: 100\n"),
     [":13:14: strategy.steps[2].shift: weights must not decrease: 20 after 50 (steps[0])"]),
    ("not ending at 100", MINIMAL_LAMBDA_PLAN.replace(
        "  canary: {weight: 10, bake: 5m}\n", "  steps:\n    - shift: 10\n    - bake: 1m\n"),
     [":11:14: strategy.steps[0].shift: every plan must end at 100; the last shift is 10 "
      "(add '- shift: 100')"]),
    ("two strategies", MINIMAL_LAMBDA_PLAN + "  linear: {step: 10, every: 1m}\n",
     [":10:3: strategy: has canary and linear; keep exactly one of: canary, linear, "
      "all_at_once, blue_green, preset, steps"]),
    ("no version source", MINIMAL_LAMBDA_PLAN.replace('    version: "42"\n', ""),
     [":5:5: target.lambda: needs exactly one of: version, publish, code"]),
    ("$LATEST", MINIMAL_LAMBDA_PLAN.replace('"42"', "$LATEST"),
     [":7:14: target.lambda.version: $LATEST cannot receive weighted traffic; give a "
      "published version number, or use publish: true"]),
    ("unknown preset", MINIMAL_LAMBDA_PLAN.replace(
        "canary: {weight: 10, bake: 5m}", "preset: LambdaCanary10Percent5Minute"),
     [":10:11: strategy.preset: unknown preset 'LambdaCanary10Percent5Minute'; did you mean "
      "LambdaCanary10Percent5Minutes, LambdaCanary10Percent15Minutes, "
      "LambdaCanary10Percent30Minutes?"]),
    ("bad duration", MINIMAL_LAMBDA_PLAN.replace("bake: 5m", "bake: 5 minutes"),
     [":10:30: strategy.canary.bake: '5 minutes' is not a duration; write e.g. 500ms, 30s, 5m, "
      "2h, 1d or 1h30m"]),
    ("missing env var", MINIMAL_LAMBDA_PLAN.replace('"42"', '"${NEW_VERSION}"'),
     [":7:14: target.lambda.version: environment variable NEW_VERSION is not set "
      "(write ${NEW_VERSION:-default} for a default)"]),
    ("duplicate key", MINIMAL_LAMBDA_PLAN + "name: again\n",
     [":11:1: name: duplicate key 'name' (first at line 2)"]),
    ("bad name", MINIMAL_LAMBDA_PLAN.replace("name: checkout-api", "name: Checkout API"),
     [":2:7: name: 'Checkout API' is not a valid name (1-64 of a-z, 0-9, -)"]),
    ("wrong plan version", MINIMAL_LAMBDA_PLAN.replace("version: 1", "version: 2"),
     [":1:10: version: must be 1; got 2"]),
    ("poll too fast", MINIMAL_LAMBDA_PLAN.replace("errors]}", "errors], poll_every: 500ms}"),
     [":8:53: checks.poll_every: must be at least 1s"]),
    ("deadline too short", MINIMAL_LAMBDA_PLAN + "final_bake: 10m\ndeadline: 10m\n",
     [":12:11: deadline: deadline 10m is shorter than the plan's 15m of bakes"]),
    ("hook with two kinds", MINIMAL_LAMBDA_PLAN
     + "hooks:\n  before_traffic:\n    - {lambda: smoke, command: [./x]}\n",
     [":13:7: hooks.before_traffic[0]: has lambda and command; keep exactly one of: lambda, "
      "http, command"]),
    ("metrics without a bound", MINIMAL_LAMBDA_PLAN.replace(
        "checks: {alarms: [checkout-api-errors]}", "checks: {metrics: {error_rate: {}}}"),
     [":8:32: checks.metrics.error_rate: give max, max_vs_stable or both"]),
    ("bad rate and ratio", MINIMAL_LAMBDA_PLAN.replace(
        "checks: {alarms: [checkout-api-errors]}",
        "checks: {metrics: {error_rate: {max: 2 percent, max_vs_stable: 0.5x}}}"),
     [":8:38: checks.metrics.error_rate.max: '2 percent' is not a percentage; write e.g. 2% "
      "or 0.5%",
      ":8:64: checks.metrics.error_rate.max_vs_stable: 0.5x is below 1x: the new version "
      "would fail for being as good as the stable one"]),
    ("window in seconds", MINIMAL_LAMBDA_PLAN.replace(
        "checks: {alarms: [checkout-api-errors]}",
        "checks: {metrics: {error_rate: {max: 2%}}, window: 90s}"),
     [":8:52: checks.window: window must be whole minutes, at least 1m (CloudWatch's periods "
      "are 1 minute)"]),
    ("analysis settings without metrics", MINIMAL_LAMBDA_PLAN.replace(
        "checks: {alarms: [checkout-api-errors]}",
        "checks: {alarms: [a], on_inconclusive: approve}"),
     [":8:40: checks.on_inconclusive: on_inconclusive goes with metrics (checks.metrics is "
      "not given)"]),
    ("unknown on_inconclusive", MINIMAL_LAMBDA_PLAN.replace(
        "checks: {alarms: [checkout-api-errors]}",
        "checks: {metrics: {latency: {max: 1s}}, on_inconclusive: wait}"),
     [":8:58: checks.on_inconclusive: input should be 'extend', 'rollback', 'approve' or "
      "'promote'"]),
    ("ecs listener and rule", """\
version: 1
name: web
target:
  ecs:
    cluster: prod
    services: {blue: web-blue, green: web-blue}
    listener: arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/w/1/2
    rule: arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener-rule/app/w/1/2/3
    task_definition: web:3
strategy: {all_at_once: {}}
""", [":5:5: target.ecs: has listener and rule; keep exactly one of: listener, rule",
      ":6:39: target.ecs.services.green: blue and green must be two different services"]),
]


@pytest.mark.parametrize(("what", "text", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_plan(write_plan: WritePlan, what: str, text: str, expected: list[str]) -> None:
    assert problems_of(write_plan(text)) == expected


def test_every_problem_is_reported_at_once(write_plan: WritePlan) -> None:
    text = """\
version: 1
name: Bad Name
target:
  lambda: {function: f, alias: live, version: "3", colour: blue}
strategy:
  canary: {weight: 10, bake: 5x}
checks: {poll_every: 0s, insufficient_data: maybe}
"""
    assert problems_of(write_plan(text)) == [
        ":2:7: name: 'Bad Name' is not a valid name (1-64 of a-z, 0-9, -)",
        ":4:52: target.lambda.colour: unknown field 'colour' (expected one of: function, "
        "alias, version, publish, code, provisioned_concurrency)",
        ":6:30: strategy.canary.bake: '5x' is not a duration; write e.g. 500ms, 30s, 5m, 2h, "
        "1d or 1h30m",
        ":7:22: checks.poll_every: must be at least 1s",
        ":7:45: checks.insufficient_data: input should be 'ignore' or 'fail'",
    ]


def test_non_utf8_file(write_plan: WritePlan) -> None:
    path = write_plan(b"version: 1\nname: caf\xe9\n")
    assert problems_of(path) == [":2:10: not UTF-8 text: byte 0xe9 cannot be decoded"]


def test_binary_file(write_plan: WritePlan) -> None:
    path = write_plan(b"\x7fELF\x02\x01\x01\x00\x00\x00")
    assert problems_of(path) == [":1:1: binary file (contains NUL bytes), not YAML"]


def test_huge_file(write_plan: WritePlan) -> None:
    path = write_plan(MINIMAL_LAMBDA_PLAN + "#" * MAX_BYTES)
    (problem,) = problems_of(path)
    assert problem.startswith(":1:1: file is ") and f"at most {MAX_BYTES}" in problem


def test_billion_laughs_stops_quickly(write_plan: WritePlan) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    path = write_plan("\n".join(lines) + "\n")
    (problem,) = problems_of(path)
    assert f"more than {MAX_NODES} values (alias bomb?)" in problem


def test_deep_nesting(write_plan: WritePlan) -> None:
    path = write_plan("a: " + "[" * 1000 + "]" * 1000 + "\n")  # 64 is the limit
    # Whether the YAML composer's own recursion gives out first depends on the process's
    # recursion limit (a test dependency raises it): either way the problem is named.
    assert any("nested deeper than 64 levels" in p for p in problems_of(path))


def test_missing_file() -> None:
    with pytest.raises(PlanError) as caught:
        load_plan("/nonexistent/plan.yaml")
    assert caught.value.problems == [
        "/nonexistent/plan.yaml: cannot read: No such file or directory"
    ]


def test_env_var_with_default_and_escape(write_plan: WritePlan) -> None:
    text = MINIMAL_LAMBDA_PLAN.replace('"42"', '"${NEW_VERSION:-7}"') + (
        "hooks:\n  after_traffic: [{command: [echo, '$${HOME}', '${WHO}']}]\n")
    loaded = load_plan(write_plan(text), environ={"WHO": "ops"})
    assert loaded.plan.target.lambda_ is not None
    assert loaded.plan.target.lambda_.version == "7"
    assert loaded.plan.hooks.after_traffic[0].command == ["echo", "${HOME}", "ops"]


def test_anchors_and_merge_keys_work(write_plan: WritePlan) -> None:
    text = MINIMAL_LAMBDA_PLAN + """\
hooks:
  before_traffic: [&smoke {lambda: smoke, timeout: 1m}]
  after_traffic: [*smoke, {<<: *smoke, timeout: 2m}]
"""
    hooks = load_plan(write_plan(text), environ={}).plan.hooks
    assert [(h.lambda_, h.timeout) for h in hooks.after_traffic] == [("smoke", 60), ("smoke", 120)]


def test_unknown_top_level_key_suggests_a_field(write_plan: WritePlan) -> None:
    path = write_plan(MINIMAL_LAMBDA_PLAN + "x-hook: 1\n")
    assert problems_of(path) == [":11:1: x-hook: unknown field 'x-hook'; did you mean 'hooks'?"]


# ---------------------------------------------------------------- --set

def test_set_overrides_are_typed_by_the_schema(write_plan: WritePlan) -> None:
    path = write_plan(MINIMAL_LAMBDA_PLAN)
    loaded = load_plan(path, ("target.lambda.version=43", "checks.alarms=[a, b]",
                              "strategy.canary.bake=1m", "final_bake=30s"), environ={})
    assert loaded.plan.target.lambda_ is not None
    assert loaded.plan.target.lambda_.version == "43"
    assert loaded.plan.checks.alarms == ["a", "b"]
    assert loaded.plan.strategy.canary is not None
    assert loaded.plan.strategy.canary.bake == 60
    assert loaded.plan.final_bake == 30


def test_set_replacing_the_strategy(write_plan: WritePlan) -> None:
    path = write_plan(MINIMAL_LAMBDA_PLAN)
    loaded = load_plan(path, ("strategy={preset: LambdaAllAtOnce}",), environ={})
    assert loaded.plan.strategy.preset == "LambdaAllAtOnce"


def test_set_appends_list_items(write_plan: WritePlan) -> None:
    path = write_plan(MINIMAL_LAMBDA_PLAN)
    loaded = load_plan(path, ("hooks.before_traffic[0].lambda=smoke",), environ={})
    assert loaded.plan.hooks.before_traffic[0].lambda_ == "smoke"


@pytest.mark.parametrize(
    ("assignment", "expected"),
    [
        ("target.lambda.version=abc",
         "--set:1:23: target.lambda.version: 'abc' is not a published version number "
         'such as "42"'),
        ("novalue", "--set:1:1: 'novalue': write --set path.to.field=value"),
        ("a..b=1", "--set:1:1: 'a..b' is not a field path (write e.g. target.lambda.version)"),
        ("name.sub=1", "--set:1:1: name.sub: --set name.sub: cannot set this field"),
        ("strategy.canary.wieght=5",
         "--set:1:1: strategy.canary.wieght: unknown field 'wieght'; did you mean 'weight'?"),
    ],
)
def test_bad_set(write_plan: WritePlan, assignment: str, expected: str) -> None:
    path = write_plan(MINIMAL_LAMBDA_PLAN)
    assert problems_of(path, (assignment,)) == [expected]


def test_bare_strategy_key_needs_its_fields(write_plan: WritePlan) -> None:
    text = MINIMAL_LAMBDA_PLAN.replace("canary: {weight: 10, bake: 5m}", "linear:")
    assert problems_of(write_plan(text)) == [
        ":10:10: strategy.linear.step: required field is missing",
        ":10:10: strategy.linear.every: required field is missing",
    ]


def test_bare_all_at_once_and_approve_take_defaults(write_plan: WritePlan) -> None:
    text = MINIMAL_LAMBDA_PLAN.replace("canary: {weight: 10, bake: 5m}", "all_at_once:")
    assert load_plan(write_plan(text), environ={}).plan.strategy.kind == "all_at_once"
    text = MINIMAL_LAMBDA_PLAN.replace("  canary: {weight: 10, bake: 5m}\n",
                                       "  steps:\n    - approve:\n    - shift: 100\n")
    steps = load_plan(write_plan(text), environ={}).plan.strategy.steps
    assert steps is not None and steps[0].approve is not None
    assert steps[0].approve.timeout == 3600
