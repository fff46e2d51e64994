"""The Step Functions compiler's output, by structure (no snapshots): for every strategy
and target layout, every AWS call retries throttling and is caught, every write is
read back and compared before the run goes on, results are trimmed, and the
definition stays within what AWS accepts (JSONPath, the history budget)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deployer.plan.compile import compile_strategy
from deployer.plan.loader import load_plan
from deployer.plan.model import ReleasePlan
from deployer.stepfunctions.asl import DRIFT
from deployer.stepfunctions.compiler import compile_plan
from deployer.stepfunctions.history import (
    HISTORY_LIMIT,
    smallest_poll_that_fits,
    worst_case,
)
from deployer.stepfunctions.table import build_table, shift_weights
from deployer.stepfunctions.validate import engine_problems
from strategies.presets import PRESETS
from tests.conftest import ROOT

LISTENER = ("arn:aws:elasticloadbalancing:us-east-1:111122223333:listener/app/web/"
            "50dc6c495c0c9188/f2f7dc8efc522ab2")
RULE = ("arn:aws:elasticloadbalancing:us-east-1:111122223333:listener-rule/app/web/"
        "50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee")
TARGETS = {
    "lambda": "target: {lambda: {function: checkout, alias: live, version: '7'}}",
    "lambda-pc": ("target: {lambda: {function: checkout, alias: live, version: '7', "
                  "provisioned_concurrency: 5}}"),
    "ecs-services": (f"target: {{ecs: {{cluster: shop, services: {{blue: b, green: g}}, "
                     f"listener: '{LISTENER}', task_definition: 'web:2'}}}}"),
    "ecs-rule": (f"target: {{ecs: {{cluster: shop, services: {{blue: b, green: g}}, "
                 f"rule: '{RULE}', task_definition: 'web:2'}}}}"),
    "ecs-test-route": (f"target: {{ecs: {{cluster: shop, services: {{blue: b, green: g}}, "
                       f"listener: '{LISTENER}', test_rule: '{RULE}', "
                       f"task_definition: 'web:2'}}}}"),
    "ecs-task-sets": (f"target: {{ecs: {{cluster: shop, service: web, target_groups: "
                      f"{{blue: web-blue, green: web-green}}, listener: '{LISTENER}', "
                      f"task_definition: 'web:2'}}}}"),
    "application": ("targets:\n  api: {lambda: {function: api, alias: live, version: '3'}, "
                    "alarms: [api-errors]}\n"
                    f"  web: {{ecs: {{cluster: shop, services: {{blue: b, green: g}}, "
                    f"listener: '{LISTENER}', task_definition: 'web:2'}}}}\n"
                    "waves: [[api], [web]]"),
}
STRATEGIES = {
    "canary": "canary: {weight: 10, bake: 5m}",
    "linear": "linear: {step: 25, every: 1m}",
    "all_at_once": "all_at_once: {}",
    "blue_green": "blue_green: {preview: 5, preview_for: 2m, approve: {timeout: 1h}}",
    "steps": ("steps: [{shift: 5}, {bake: 2m}, {approve: {timeout: 30m, on_timeout: promote}},"
              " {shift: 50}, {bake: 1m}, {shift: 100}]"),
    **{f"preset {name}": f"preset: {name}" for name in PRESETS},
}
HOOKS = "hooks: {before_traffic: [{lambda: smoke}], after_traffic: [{lambda: check, timeout: 5m}]}"


def plan_of(tmp_path: Path, target: str, strategy: str, extra: str = "") -> ReleasePlan:
    text = "\n".join(["version: 1", "name: shop", target, f"strategy: {{{strategy}}}",
                      "final_bake: 2m", "keep_old_for: 5m", "deadline: 6h",
                      "checks: {alarms: [shop-5xx], poll_every: 10s}", HOOKS, extra])
    path = tmp_path / "plan.yaml"
    path.write_text(text + "\n")
    return load_plan(str(path)).plan


def scopes(states: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every scope of state names: the top, each Map's processor, each Parallel branch."""
    yield states
    for state in states.values():
        if state["Type"] == "Map":
            yield from scopes(state["ItemProcessor"]["States"])
        for branch in state.get("Branches", []):
            yield from scopes(branch["States"])


def every_state(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for scope in scopes(definition["States"]):
        yield from scope.items()


def successors(state: dict[str, Any]) -> list[str]:
    found = [state["Next"]] if "Next" in state else []
    found += [c["Next"] for c in state.get("Choices", [])]
    found += [state["Default"]] if "Default" in state else []
    found += [c["Next"] for c in state.get("Catch", [])]
    return found


NOTIFY = "notify: {sns_topic: 'arn:aws:sns:us-east-1:111122223333:deploys'}"
CASES = [(t, s) for t in TARGETS for s in ("canary", "blue_green", "steps")] + \
        [("lambda", s) for s in STRATEGIES] + [("ecs-services", s) for s in STRATEGIES
                                               if s.startswith("preset CodeDeployDefault.ECS")]


@pytest.mark.parametrize(("target", "strategy"), CASES)
def test_every_state_is_wired_and_every_call_retried_and_caught(
        tmp_path: Path, target: str, strategy: str) -> None:
    plan = plan_of(tmp_path, TARGETS[target], STRATEGIES[strategy],
                   NOTIFY if strategy == "steps" else "")
    definition = compile_plan(plan, "runs")
    assert definition["QueryLanguage"] == "JSONPath"
    publishes = [s for _, s in every_state(definition)
                 if s.get("Resource") == "arn:aws:states:::sns:publish"]
    # started, approval_requested, succeeded, rolled_back, aborted, failed
    assert len(publishes) == (6 if strategy == "steps" else 0)
    json.dumps(definition)  # a JSON document
    names = [name for name, _ in every_state(definition)]
    assert len(names) == len(set(names)), "state names must be unique in the whole machine"
    for scope in scopes(definition["States"]):
        for name, state in scope.items():
            for target_name in successors(state):
                assert target_name in scope, f"{name} -> {target_name} (not in its scope)"
            assert not {"Arguments", "Output", "Assign"} & set(state), name  # no JSONata
            if state["Type"] == "Choice":
                assert state["Choices"], f"{name}: a Choice needs a rule"
    top = definition["States"]
    reachable, todo = set(), [definition["StartAt"]]
    while todo:
        name = todo.pop()
        if name not in reachable:
            reachable.add(name)
            todo += successors(top[name])
    assert reachable == set(top), set(top) - reachable
    for name, state in every_state(definition):
        if state["Type"] != "Task":
            continue
        assert state["Retry"] and all(r["ErrorEquals"] for r in state["Retry"]), name
        resource = state["Resource"]
        if resource.startswith("arn:aws:states:::aws-sdk:") and ":dynamodb:" not in resource:
            assert state["ResultPath"] is None or "ResultSelector" in state, name
        assert ":elbv2:" not in resource  # AWS's service name is elasticloadbalancingv2
    for name, state in top.items():
        if state["Type"] in ("Task", "Map", "Parallel"):
            assert state.get("Catch"), f"{name} has no Catch"


@pytest.mark.parametrize("target", list(TARGETS))
def test_every_write_is_read_back_and_a_mismatch_fails_as_drift(tmp_path: Path,
                                                                target: str) -> None:
    definition = compile_plan(plan_of(tmp_path, TARGETS[target], STRATEGIES["canary"]), "runs")
    legs = {name.removeprefix("Write"): state for name, state in
            definition["States"]["Shift"]["ItemProcessor"]["States"].items()}
    legs = {name: {**state, **{k: state[k].removeprefix("Write") for k in ("Next", "Default")
                               if k in state},
                   "Choices": [{**c, "Next": c["Next"].removeprefix("Write")}
                               for c in state.get("Choices", [])]}
            for name, state in legs.items()}
    writes = {n: s for n, s in legs.items() if s.get("Resource", "").endswith(
        ("updateAlias", "modifyListener", "modifyRule"))}
    expected = {"lambda": 1, "ecs-services": 1, "ecs-rule": 1, "ecs-task-sets": 1,
                "application": 2,  # only the kinds of target the plan has
                "ecs-test-route": 2,  # production listener; the test rule, on rollback
                "lambda-pc": 1}
    assert len(writes) == expected[target]
    for name, state in writes.items():
        read = legs[state["Next"]]
        assert read["Resource"].endswith(("getAlias", "describeListeners", "describeRules"))
        # From the read, every path reaches a Choice that goes to Mismatch by default.
        seen, todo, verdicts = set(), [state["Next"]], []
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            if legs[current]["Type"] == "Choice" and legs[current].get("Default") == "Mismatch":
                verdicts.append(current)
                continue
            todo += [n for n in successors(legs[current]) if n in legs]
        assert verdicts, name
    assert legs["Mismatch"] == {**legs["Mismatch"], "Type": "Fail", "Error": DRIFT}
    for name in ("ShiftCheck", "Shift"):
        catches = definition["States"][name]["Catch"]
        assert catches[0] == {"ErrorEquals": [DRIFT], "ResultPath": "$.error",
                              "Next": "Drifted"}
    # Compare before write: the check reads the route this run last set.
    check = definition["States"]["ShiftCheck"]
    assert (check["Next"], check["ItemSelector"]["mode"]) == ("Shift", "check")
    assert check["ItemSelector"]["route.$"] == "$.cur.route"
    assert definition["States"]["Drifted"]["Next"] == "Stop"  # drift never touches traffic


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_the_step_table_is_the_strategy_once_per_wave(tmp_path: Path, strategy: str) -> None:
    plan = plan_of(tmp_path, TARGETS["application"], STRATEGIES[strategy])
    table = build_table(plan)
    weights = shift_weights(compile_strategy(plan.strategy))
    for wave in (0, 1):
        shifts = [e.weight for e in table if e.kind == "shift" and e.wave == wave]
        assert shifts == weights
    kinds = [e.kind for e in table]
    assert kinds[-2:] == ["retire", "done"]
    assert [e.stage for e in table if e.kind == "bake" and e.stage] == [
        "final_bake", "final_bake", "keep_old"]
    # The deadline stops applying once the last final bake has passed.
    assert [e.deadline for e in table if e.stage in ("keep_old", "retire")] == [False, False]


def test_waits_follow_the_time_scale_from_the_input(tmp_path: Path) -> None:
    definition = compile_plan(plan_of(tmp_path, TARGETS["lambda"], STRATEGIES["steps"]), "runs")
    waits = [s for _, s in every_state(definition) if s["Type"] == "Wait"]
    assert waits and all("SecondsPath" in s and "Seconds" not in s for s in waits)
    gate = definition["States"]["Gate"]["Branches"][0]["States"]["WaitForOperator"]
    assert gate["Resource"].endswith("dynamodb:updateItem.waitForTaskToken")
    assert gate["TimeoutSecondsPath"] == "$.gate.timeout"
    assert "$$.Task.Token" in json.dumps(gate["Parameters"])


def test_engine_refuses_what_a_state_machine_cannot_do(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, TARGETS["lambda"], STRATEGIES["canary"], "\n".join([
        "notify: {}"]))
    assert engine_problems(plan) == []
    extra = ("hooks: {before_traffic: [{command: [./smoke.sh]}, "
             "{http: {url: 'https://shop.example/health'}}]}")
    text = (tmp_path / "plan.yaml").read_text().replace(HOOKS, extra)
    text = text.replace("checks: {alarms: [shop-5xx], poll_every: 10s}",
                        "checks: {alarms: [shop-5xx], poll_every: 10s, metrics: "
                        "{error_rate: {max: 2%}}}")
    (tmp_path / "plan.yaml").write_text(text)
    problems = engine_problems(load_plan(str(tmp_path / "plan.yaml")).plan)
    assert [p.split(":")[0] for p in problems] == [  # checks.metrics runs in the machine
        "hooks.before_traffic[0].command", "hooks.before_traffic[1].http"]


def test_a_plan_above_the_history_limit_is_refused_naming_the_poll_that_fits(
        tmp_path: Path) -> None:
    plan_of(tmp_path, TARGETS["lambda"], "canary: {weight: 10, bake: 5h}")
    path = tmp_path / "plan.yaml"
    path.write_text(path.read_text().replace("poll_every: 10s", "poll_every: 1s"))
    plan = load_plan(str(path)).plan
    assert worst_case(plan).events > HISTORY_LIMIT
    fits = smallest_poll_that_fits(plan)
    assert fits is not None
    assert worst_case(plan, fits).events <= HISTORY_LIMIT < worst_case(plan, fits - 1).events
    (problem,) = [p for p in engine_problems(plan) if p.startswith("checks.poll_every")]
    assert f"{fits:g}s" in problem


def test_a_preset_fits_the_history_with_room_to_spare(tmp_path: Path) -> None:
    for name in PRESETS:
        plan = plan_of(tmp_path, TARGETS["lambda"], f"preset: {name}")
        assert worst_case(plan).events < HISTORY_LIMIT, name


def test_the_example_configs_compile(tmp_path: Path) -> None:
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        plan = load_plan(str(path)).plan
        if engine_problems(plan):  # e.g. an http hook: refused, by name
            continue
        assert compile_plan(plan, "runs")["States"]


IAM_SERVICE = {"elasticloadbalancingv2": "elasticloadbalancing"}


def iam_action(resource: str) -> str:
    """The IAM action a Task's resource calls: arn:aws:states:::aws-sdk:ecs:updateService
    -> ecs:UpdateService, arn:aws:states:::lambda:invoke -> lambda:InvokeFunction."""
    parts = resource.removeprefix("arn:aws:states:::").removeprefix("aws-sdk:").split(":")
    service, action = parts[0], parts[1].split(".")[0]
    if (service, action) == ("lambda", "invoke"):
        return "lambda:InvokeFunction"
    return f"{IAM_SERVICE.get(service, service)}:{action[0].upper()}{action[1:]}"


@pytest.mark.parametrize("target", list(TARGETS))
def test_the_role_policy_allows_every_call_the_definition_makes(tmp_path: Path,
                                                               target: str) -> None:
    from deployer.cli.iam_policy import machine_role_policy

    plan = plan_of(tmp_path, TARGETS[target], STRATEGIES["steps"], NOTIFY)
    calls = {iam_action(s["Resource"]) for _, s in every_state(compile_plan(plan, "runs"))
             if s["Type"] == "Task"}
    allowed = {a for s in machine_role_policy(plan, "runs")["Statement"] for a in s["Action"]}
    assert calls <= allowed, calls - allowed
    assert "dynamodb:UpdateItem" in calls and "cloudwatch:DescribeAlarms" in calls


def intrinsics(node: Any) -> Iterator[str]:
    """Every intrinsic function call in the definition (a "key.$" value "States.…")."""
    if isinstance(node, dict):
        for key, value in node.items():
            named = key.endswith(".$") or key in ("CausePath", "ErrorPath")
            if named and isinstance(value, str) and value.startswith("States."):
                yield value
            yield from intrinsics(value)
    elif isinstance(node, list):
        for item in node:
            yield from intrinsics(item)


@pytest.mark.parametrize("target", list(TARGETS))
def test_the_definition_parses_as_asl_with_every_intrinsic(tmp_path: Path, target: str) -> None:
    """moto's ASL grammar (the AWS grammar LocalStack ported) as a syntax check: the whole
    definition, and each intrinsic, which the interpreter only parses when it runs."""
    from antlr4 import CommonTokenStream, InputStream
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLIntrinsicLexer import ASLIntrinsicLexer
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLIntrinsicParser import (
        ASLIntrinsicParser,
    )
    from moto.stepfunctions.parser.asl.parse.asl_parser import (
        AmazonStateLanguageParser,
        SyntaxErrorListener,
    )

    plan = plan_of(tmp_path, TARGETS[target], STRATEGIES["steps"], NOTIFY)
    definition = compile_plan(plan, "runs")
    AmazonStateLanguageParser.parse(json.dumps(definition))
    calls = set(intrinsics(definition))
    assert len(calls) > 20
    for call in calls:
        listener = SyntaxErrorListener()
        parser = ASLIntrinsicParser(CommonTokenStream(ASLIntrinsicLexer(InputStream(call))))
        parser.removeErrorListeners()
        parser.addErrorListener(listener)
        parser.func_decl()
        assert not listener.errors, (call, listener.errors)


@pytest.mark.parametrize("target", ["lambda", "ecs-services"])
def test_a_plan_that_watches_nothing_reads_no_alarm(tmp_path: Path, target: str) -> None:
    """DescribeAlarms with AlarmNames [] reads every alarm of the account: such a plan must
    make no such call (and its role may not name an empty resource list)."""
    from deployer.cli.iam_policy import machine_role_policy

    plan = plan_of(tmp_path, TARGETS[target], STRATEGIES["steps"])
    text = (tmp_path / "plan.yaml").read_text()
    (tmp_path / "plan.yaml").write_text(text.replace("alarms: [shop-5xx], ", ""))
    plan = load_plan(str(tmp_path / "plan.yaml")).plan
    assert not plan.all_alarms
    definition = compile_plan(plan, "runs")
    assert not [name for name, s in every_state(definition)
                if "describeAlarms" in s.get("Resource", "")]
    for statement in machine_role_policy(plan, "runs")["Statement"]:
        assert statement["Resource"], statement
        assert "cloudwatch:DescribeAlarms" not in statement["Action"]


def test_provisioned_concurrency_is_released_on_rollback_and_retire(tmp_path: Path) -> None:
    """What the local engine's tests check with a Stubber (moto has no provisioned
    concurrency): the machine deletes the new version's on rollback and the old
    version's after keep_old_for, best effort, and its role may."""
    from deployer.cli.iam_policy import machine_role_policy

    plan = plan_of(tmp_path, TARGETS["lambda-pc"], STRATEGIES["canary"])
    definition = compile_plan(plan, "runs")
    drops = {name: state for name, state in every_state(definition)
             if state.get("Resource", "").endswith("deleteProvisionedConcurrencyConfig")}
    qualifiers = {s["Parameters"]["Qualifier.$"] for s in drops.values()}
    assert qualifiers == {"$.leg.new_version", "$.leg.stable_version"}
    retire = definition["States"]["Retire"]["ItemProcessor"]["States"]
    assert [s["Parameters"]["Qualifier.$"] for s in retire.values()
            if s.get("Resource", "").endswith("Config")] == ["$.leg.stable_version"]
    for state in drops.values():  # a failed delete never fails the run
        assert state["Catch"][0]["ErrorEquals"] == ["States.ALL"]
    allowed = {a for s in machine_role_policy(plan, "runs")["Statement"] for a in s["Action"]}
    assert "lambda:DeleteProvisionedConcurrencyConfig" in allowed
    plain = compile_plan(plan_of(tmp_path, TARGETS["lambda"], STRATEGIES["canary"]), "runs")
    assert not [n for n, s in every_state(plain)
                if s.get("Resource", "").endswith("deleteProvisionedConcurrencyConfig")]



def muting_plan(tmp_path: Path, target: str = "lambda") -> ReleasePlan:
    plan_of(tmp_path, TARGETS[target], STRATEGIES["steps"])
    path = tmp_path / "plan.yaml"
    path.write_text(path.read_text().replace(
        "checks: {alarms: [shop-5xx], poll_every: 10s}",
        "checks: {alarms: [shop-5xx, shop-p99], poll_every: 10s, already_firing: ignore}"))
    return load_plan(str(path)).plan


def jsonata_expressions(node: Any) -> Iterator[str]:
    if isinstance(node, str) and node.startswith("{%"):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from jsonata_expressions(value)
    elif isinstance(node, list):
        for item in node:
            yield from jsonata_expressions(item)


def without_strings(expression: str) -> str:
    return re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', '""', expression)


@pytest.mark.parametrize("target", ["lambda", "application"])
def test_muted_alarms_are_judged_by_the_one_jsonata_state_of_each_poll(
        tmp_path: Path, target: str) -> None:
    definition = compile_plan(muting_plan(tmp_path, target), "runs")
    jsonata = {name: state for name, state in every_state(definition)
               if state.get("QueryLanguage") == "JSONata"}
    assert jsonata and all(name.endswith("Seen") for name in jsonata)
    assert all(state["Type"] == "Pass" and set(state) <= {"Type", "QueryLanguage", "Output",
                                                          "Next"} for state in jsonata.values())
    for name in jsonata:  # the record's sf_muted is read with the requests, before it
        prefix = name.removesuffix("Seen")
        requests = dict(every_state(definition))[f"{prefix}Requests"]
        assert "sf_muted" in requests["Parameters"]["ProjectionExpression"]
        assert requests["Next"] == name
    assert engine_problems(muting_plan(tmp_path, target)) == []


def analysis_plan(tmp_path: Path, target: str = "lambda", policy: str = "extend",
                  strategy: str = "canary") -> ReleasePlan:
    plan_of(tmp_path, TARGETS[target], STRATEGIES[strategy])
    path = tmp_path / "plan.yaml"
    path.write_text(path.read_text().replace(
        "checks: {alarms: [shop-5xx], poll_every: 10s}",
        "checks: {alarms: [shop-5xx], poll_every: 10s, already_firing: ignore, "
        "metrics: {error_rate: {max: 2%, max_vs_stable: 2x}, latency: {max_vs_stable: 1.5x}},"
        f" on_inconclusive: {policy}}}"))
    return load_plan(str(path)).plan


def lint(expression: str) -> None:
    """Step Functions implements JSONata 2.0.6: no `??`, no `?:` (2.1), no `$eval`, and
    it refuses a bare `$` or `$$`."""
    assert expression.startswith("{%") and expression.rstrip().endswith("%}"), expression
    code = without_strings(expression.strip()[2:-2])
    assert "??" not in code and "?:" not in code and "$eval(" not in code, expression
    assert not re.search(r"\$(?![A-Za-z_])", code), expression


@pytest.mark.parametrize("policy", ["extend", "rollback", "approve", "promote"])
@pytest.mark.parametrize("target", ["lambda", "application"])
def test_every_jsonata_expression_is_what_step_functions_parses(
        tmp_path: Path, target: str, policy: str) -> None:
    definition = compile_plan(analysis_plan(tmp_path, target, policy, "steps"), "runs")
    expressions = list(jsonata_expressions(definition))
    assert len(expressions) >= 8  # muting and measuring, in the bake and the gate's watch
    for expression in expressions:
        lint(expression)
    import jsonata  # and jsonata-python parses each one
    for expression in expressions:
        jsonata.Jsonata(expression.strip()[2:-2])


@pytest.mark.parametrize("target", ["lambda", "application", "ecs-test-route"])
def test_analysis_reads_every_version_once_per_poll_and_notes_it_in_the_record(
        tmp_path: Path, target: str) -> None:
    plan = analysis_plan(tmp_path, target, strategy="steps")
    definition = compile_plan(plan, "runs")
    states = dict(every_state(definition))
    for prefix in ("Bake", "Watch"):
        measure = states[f"{prefix}Measure"]
        assert measure["Resource"] == "arn:aws:states:::aws-sdk:cloudwatch:getMetricData"
        assert measure["QueryLanguage"] == "JSONata" and "ResultPath" not in measure
        assert measure["Retry"][0]["ErrorEquals"][0].startswith("CloudWatch.")
        assert measure["Catch"][0]["Next"] == f"{prefix}Unreadable"
        note = states[measure["Next"]]
        assert "sf_analysis = :doc" in note["Parameters"]["UpdateExpression"]
        assert note["Next"] == f"{prefix}Judge"
        # read with the requests: the last verdicts (an event only when they change)
        assert "sf_verdicts" in states[f"{prefix}Requests"]["Parameters"][
            "ProjectionExpression"]
        rules = json.dumps(states[f"{prefix}Judge"]["Choices"])
        assert '"$.an.fail"' in rules
    assert engine_problems(plan) == []
    from deployer.cli.iam_policy import machine_role_policy

    actions = {a for s in machine_role_policy(plan, "runs")["Statement"] for a in s["Action"]}
    assert "cloudwatch:GetMetricData" in actions


def test_each_on_inconclusive_policy_has_its_end_of_bake(tmp_path: Path) -> None:
    ends = {}
    for policy in ("extend", "rollback", "approve", "promote"):
        states = dict(every_state(compile_plan(analysis_plan(tmp_path, policy=policy),
                                               "runs")))
        ends[policy] = states["BakeEnd"]["Default"]
        if policy == "approve":
            assert states["AnalysisGate"]["Next"] == "GatePrep"
    assert ends == {"extend": "BakeExtend", "rollback": "BakeUnsure",
                    "approve": "AnalysisGate", "promote": "BakeGoOn"}
    table = build_table(analysis_plan(tmp_path, policy="approve"))
    bakes = [e for e in table if e.kind == "bake"]
    assert [(e.stage, e.judged, e.gate) for e in bakes] == [
        ("", True, "analysis:step"), ("final_bake", True, "analysis:final_bake"),
        ("keep_old", False, "")]
    assert bakes[0].document()["label"] == "bake 5m"
    extended = next(e for e in build_table(analysis_plan(tmp_path)) if e.kind == "bake"
                    ).document()
    assert (extended["extend_to"], extended["more"]) == ("15m", 2 * extended["polls"])


def test_analysis_beyond_one_getmetricdata_answer_is_refused(tmp_path: Path) -> None:
    targets = "\n".join(f"  f{i}: {{lambda: {{function: f{i}, alias: live, version: '2'}}}}"
                         for i in range(84))
    path = tmp_path / "many.yaml"
    path.write_text(f"""version: 1
name: many
targets:
{targets}
strategy: {{canary: {{weight: 10, bake: 5m}}}}
checks: {{metrics: {{error_rate: {{max: 2%}}, latency: {{max: 1s}}}}}}
""")
    problems = engine_problems(load_plan(str(path)).plan)
    assert len(problems) == 1 and problems[0].startswith("checks.metrics:")
    assert "504" in problems[0] and "at most 500" in problems[0]
    path.write_text("""version: 1
name: one
target: {lambda: {function: f0, alias: live, version: '2'}}
strategy: {canary: {weight: 10, bake: 5m}}
checks: {metrics: {error_rate: {max: 2%}, latency: {max: 1s}}, window: 300h}
""")
    problems = engine_problems(load_plan(str(path)).plan)
    assert len(problems) == 1 and problems[0].startswith("checks.window:")
    assert "6 series x 18000 minutes" in problems[0]
    assert problems[0].endswith("make the window 11d16h or shorter")


def evaluate_seen(poll: dict[str, list[str]], muted: list[str],
                  recorded: list[str] | None = None) -> dict[str, Any]:
    import jsonata

    from deployer.stepfunctions.compiler import MUTED_SEEN

    state: dict[str, Any] = {"poll": {"names": [], "states": [], "composites": [],
                                      "compositeStates": [], **poll},
                             "run": {"muted": muted}, "req": {"Item": {"pk": {"S": "x"}}}}
    if recorded is not None:
        state["req"]["Item"]["sf_muted"] = {"L": [{"S": n} for n in recorded]}
    body = MUTED_SEEN.strip().removeprefix("{%").removesuffix("%}")
    context = {"input": state, "context": {"State": {"EnteredTime": "2026-12-05T10:00:00Z"}}}
    result = jsonata.Jsonata(f"($states := {json.dumps(context)}; {body})").evaluate(None)
    return dict(result)


def test_the_muting_expression_mutes_until_seen_ok_as_the_local_engine_does() -> None:
    # At the start: a in ALARM is muted; b is OK.
    first = evaluate_seen({"names": ["a", "b"], "states": ["ALARM", "OK"]}, ["a"])
    assert first["seen"]["alarm"] is False and first["mute"] == {"changed": False,
                                                                 "items": [{"S": "a"}]}
    # b fires: it was never muted.
    fired = evaluate_seen({"names": ["a", "b"], "states": ["ALARM", "ALARM"]}, ["a"])
    assert fired["seen"]["alarm"] is True
    # a is seen OK: no longer muted (the record is told), ...
    healed = evaluate_seen({"names": ["a", "b"], "states": ["OK", "OK"]}, ["a"])
    assert healed["mute"] == {"changed": True, "items": []}
    # ... and once the record says so, a in ALARM again rolls back.
    again = evaluate_seen({"names": ["a", "b"], "states": ["ALARM", "OK"]}, ["a"], [])
    assert again["seen"]["alarm"] is True
    # INSUFFICIENT_DATA of a muted alarm is not judged; of another one it is.
    assert evaluate_seen({"names": ["a"], "states": ["INSUFFICIENT_DATA"]}, ["a"])[
        "seen"]["nodata"] is False
    assert evaluate_seen({"names": ["a", "b"], "states": ["ALARM", "INSUFFICIENT_DATA"]},
                         ["a"])["seen"]["nodata"] is True
    # A composite alarm counts like a metric alarm; one alone is still a list.
    composite = evaluate_seen({"composites": ["c"], "compositeStates": ["ALARM"]}, [])
    assert composite["seen"] | {"now": None} == {"alarm": True, "composite": False,
                                                  "nodata": False, "count": 1, "now": None}


def test_targets_elsewhere_on_the_engine(tmp_path: Path) -> None:
    """SPEC §13: another region than the machine's is refused (its aws-sdk tasks call
    their own region only); another account is reached with the leg's role, every Task
    of its program with Credentials, its own alarms read with that role."""
    role = "arn:aws:iam::222233334444:role/deployer-target"
    path = tmp_path / "elsewhere.yaml"
    path.write_text(f"""version: 1
name: api
region: us-east-1
targets:
  use1: {{lambda: {{function: api, alias: live, version: "3"}}, alarms: [api-errors]}}
  other: {{lambda: {{function: api, alias: live, version: "4"}}, role_arn: "{role}",
          alarms: [api-errors]}}
  euw1: {{lambda: {{function: api, alias: live, version: "5"}}, region: eu-west-1}}
waves: [[use1], [other], [euw1]]
strategy: {{canary: {{weight: 10, bake: 5m}}}}
checks: {{alarms: [edge-5xx], metrics: {{error_rate: {{max: 2%}}}}}}
""")
    problems = engine_problems(load_plan(str(path)).plan)
    assert [p.split(":")[0] for p in problems] == ["targets.euw1.region"]
    assert "runs in us-east-1" in problems[0]
    path.write_text(path.read_text().replace(", region: eu-west-1", ""))
    plan = load_plan(str(path)).plan
    assert engine_problems(plan) == []
    definition = compile_plan(plan, "runs")
    states = dict(every_state(definition))
    assumed = [name for name, state in states.items() if "Credentials" in state]
    assert assumed and all(states[n]["Type"] == "Task" for n in assumed)
    assert all(states[n]["Credentials"] == {"RoleArn.$": "$.leg.role"}
               for n in assumed if not n.endswith(("PollAs0", "MeasureAs0")))
    # version metrics: one GetMetricData per account, then one state judges them all
    assert "Credentials" not in states["BakeMeasure"]
    assert states["BakeMeasureAs0"]["Credentials"] == {"RoleArn": role}
    assert states["BakeMeasureAs0"]["Next"] == "BakeJudged"
    assert states["BakeJudged"]["Next"] == "BakeNote"
    poll = states["BakePollAs0"]
    assert poll["Credentials"] == {"RoleArn": role}
    assert poll["Parameters"]["AlarmNames"] == ["api-errors"]
    assert states["BakePoll"]["Parameters"]["AlarmNames"] == ["edge-5xx", "api-errors"]
    for expression in jsonata_expressions(definition):
        lint(expression)
    assert worst_case(plan).events > worst_case(load_plan(str(path)).plan.model_copy(
        update={"targets": {k: v.model_copy(update={"role_arn": None})
                            for k, v in (plan.targets or {}).items()}})).events
