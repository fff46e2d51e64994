"""The machine's analysis, whole path, against the local engine's on the same
CloudWatch data (moto in-process): the GetMetricData the machine's Arguments ask for,
answered by moto as AWS would answer the Step Functions task (timestamps as text),
judged by the machine's Output (jsonata-python, as tests/sfn_moto.py runs it), must
give the local MetricAnalysis's reason, inconclusive reasons and record document —
except what the machine never computes: p-values."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import jsonata
import pytest

from deployer.aws import AwsContext
from deployer.checks.analysis import MetricAnalysis, Subject
from deployer.core.clock import iso
from deployer.core.ports import MetricSeries, VersionSeries
from deployer.plan.model import ChecksSpec
from deployer.stepfunctions.analysis import _judged, _queries, analysis_input, measure_states

pytestmark = pytest.mark.usefixtures("moto_aws")

NOW = datetime.now(UTC).replace(second=31, microsecond=0)
CHECKS = ChecksSpec.model_validate({
    "metrics": {"error_rate": {"max": "20%", "max_vs_stable": "2x"},
                "latency": {"max": "800ms", "max_vs_stable": "1.5x"}},
    "window": "5m", "min_requests": 50})


def lambda_series(function: str, version: str) -> MetricSeries:
    return MetricSeries(f"version {version}", {"version": version}, "AWS/Lambda",
                        (("FunctionName", function), ("Resource", f"{function}:live"),
                         ("ExecutedVersion", version)), "Invocations", "Errors", "Duration")


def alb_series(colour: str) -> MetricSeries:
    group = f"targetgroup/web-{colour}/0123456789abcdef"
    return MetricSeries(f"target group {colour} (web-{colour})",
                        {"target_group": group, "colour": colour}, "AWS/ApplicationELB",
                        (("LoadBalancer", "app/web/50dc6c495c0c9188"), ("TargetGroup", group)),
                        "RequestCount", "HTTPCode_Target_5XX_Count", "TargetResponseTime",
                        latency_to_ms=1000.0)


def put(series: MetricSeries, minutes_ago: int, **values: float) -> None:
    at = NOW.replace(second=0) - timedelta(minutes=minutes_ago)
    names = {"requests": series.requests, "errors": series.errors, "latency": series.latency}
    boto3.client("cloudwatch").put_metric_data(Namespace=series.namespace, MetricData=[
        {"MetricName": names[kind], "Timestamp": at, "Value": value,
         "Dimensions": [{"Name": k, "Value": v} for k, v in series.dimensions]}
        for kind, value in values.items()])


def evaluate(expression: str, states: dict[str, Any]) -> Any:
    body = expression.strip().removeprefix("{%").removesuffix("%}")
    return jsonata.Jsonata(f"($states := {json.dumps(states)}; {body})").evaluate(None)


def machine(checks: ChecksSpec, subjects: list[tuple[str, int, VersionSeries]],
            single: bool, wave: int, weight: float) -> dict[str, Any]:
    """One poll of the machine: its Arguments, moto's answer, its Output's `an`."""
    state = {"step": {"e": {"wave": wave, "phase": "BAKING"}}, "cur": {"weight": weight},
             "analysis": analysis_input(subjects, single), "req": {"Item": {}}}
    context = {"State": {"EnteredTime": NOW.strftime("%Y-%m-%dT%H:%M:%S.000Z")}}
    arguments = measure_states(checks, "Bake", "BakeNote", "Rollback")["BakeMeasure"][
        "Arguments"]
    asked = {"input": state, "context": context}
    answer = boto3.client("cloudwatch").get_metric_data(
        MetricDataQueries=evaluate(_queries(checks), asked),
        StartTime=evaluate(arguments["StartTime"], asked),
        EndTime=evaluate(arguments["EndTime"], asked), ScanBy="TimestampAscending")
    for result in answer["MetricDataResults"]:  # the task's answer is JSON: times as text
        result["Timestamps"] = [t.isoformat() for t in result["Timestamps"]]
    answer.pop("ResponseMetadata", None)
    out = evaluate(_judged(checks), {**asked, "result": answer})
    assert out["step"] == state["step"]  # the Output keeps the state
    return dict(out["an"])


def local(checks: ChecksSpec, subjects: list[Subject]) -> Any:
    return MetricAnalysis(checks, AwsContext(), lambda at_full: subjects,
                          lambda: NOW).evaluate()


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """The local document without what the machine never computes (p-values), with
    "at" as a time and a relative fail's why as the machine words it."""
    def entry(e: dict[str, Any]) -> dict[str, Any]:
        e = {k: v for k, v in e.items() if k not in ("p_value", "at")}
        e["why"] = re.sub(r"\(p=[^)]*\)", "(significant at 95%)", e["why"])
        return e

    return {k: entry(v) if "verdict" in v else {m: entry(e) for m, e in v.items()}
            for k, v in document.items()}


def machine_document(an: dict[str, Any]) -> dict[str, Any]:
    document = json.loads(an["doc"])
    for entries in [document, *[v for v in document.values() if "verdict" not in v]]:
        for value in entries.values():
            if "verdict" in value:
                assert value.pop("at") == NOW.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return dict(document)


# (version, minutes ago, requests, errors, latency in ms)
Point = tuple[str, int, float, float | None, float | None]
SCENARIOS: dict[str, list[Point]] = {
    "bad canary": [("new", 1, 110, 33, 120), ("old", 1, 600, 6, 100), ("old", 2, 400, 4, 100)],
    "healthy": [("new", 1, 110, 1, 120), ("new", 2, 90, 0, 118),
                ("old", 1, 1000, 10, 100), ("old", 2, 900, 9, 104)],
    "slow": [("new", m, 300, 0, ms) for m, ms in ((1, 400), (2, 420), (3, 410))]
            + [("old", m, 3000, 0, ms) for m, ms in ((1, 100), (2, 104), (3, 98))],
    "above max": [("new", 0, 100, 30, 900), ("old", 0, 1000, 5, 100)],
    "too little": [("new", 1, 12, 1, 100), ("old", 1, 1000, 10, 100)],
    "no data": [],
    "outside the window": [("new", 7, 500, 400, None), ("old", 7, 500, 0, None)],
    "no 5xx datapoints": [("new", 1, 300, None, 120), ("old", 1, 3000, 3, 100)],
}


def put_points(points: list[Point], pair: VersionSeries) -> None:
    for version, minutes_ago, requests, errors, ms in points:
        series = pair.new if version == "new" else pair.stable
        values = {"requests": requests}
        if errors is not None:
            values["errors"] = errors
        if ms is not None:  # an ALB reports seconds
            values["latency"] = ms / series.latency_to_ms
        put(series, minutes_ago, **values)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize(("kind", "weight"), [("lambda", 10), ("alb", 10),
                                              pytest.param("lambda", 100, marks=pytest.mark.slow)])
def test_one_target_gives_the_local_reason_and_record(scenario: str, kind: str,
                                                      weight: int) -> None:
    pair = (VersionSeries(lambda_series("shop", "2"), lambda_series("shop", "1"))
            if kind == "lambda" else VersionSeries(alb_series("green"), alb_series("blue")))
    put_points(SCENARIOS[scenario], pair)
    expected = local(CHECKS, [Subject(None, pair, weight >= 100)])
    an = machine(CHECKS, [("shop", 0, pair)], True, 0, weight)
    assert an["fail"] == expected.reason
    assert an["unsure"] == expected.inconclusive
    assert machine_document(an) == comparable(expected.analysis)


def test_an_application_judges_earlier_waves_by_their_max_only_in_one_call() -> None:
    cart = VersionSeries(lambda_series("cart", "2"), lambda_series("cart", "1"))
    pay = VersionSeries(lambda_series("pay", "5"), lambda_series("pay", "4"))
    later = VersionSeries(lambda_series("ship", "9"), lambda_series("ship", "8"))
    put(cart.new, 1, requests=110, errors=5, latency=100)   # 4.5% vs 1%: a relative fail
    put(cart.stable, 1, requests=1000, errors=10, latency=100)
    put(pay.new, 1, requests=110, errors=33, latency=100)
    put(pay.stable, 1, requests=1000, errors=10, latency=100)
    subjects = [("cart", 0, cart), ("pay", 1, pay), ("ship", 2, later)]
    # Wave 2 (index 1) at 10%: cart (wave 1) is at 100% (max only), pay is judged.
    expected = local(CHECKS, [Subject("cart", cart, True), Subject("pay", pay, False)])
    an = machine(CHECKS, subjects, False, 1, 10)
    assert an["fail"] == expected.reason
    assert an["fail"].startswith("analysis: pay: error_rate of version 5 is 30.0%")
    assert an["unsure"] == expected.inconclusive
    assert machine_document(an) == comparable(expected.analysis)
    assert set(machine_document(an)) == {"cart", "pay"}  # ship's wave has not started
    assert an["flat"] == ("cart.error_rate pass, cart.latency pass, pay.error_rate fail, "
                          "pay.latency inconclusive")  # one minute of latency: no test


def test_the_event_says_the_verdicts_only_when_they_change() -> None:
    pair = VersionSeries(lambda_series("shop", "2"), lambda_series("shop", "1"))
    put_points(SCENARIOS["healthy"], pair)
    first = machine(CHECKS, [("shop", 0, pair)], True, 0, 10)
    assert [e["M"]["message"]["S"] for e in first["events"]] == [
        "analysis: error_rate pass, latency pass"]
    assert json.loads(first["events"][0]["M"]["details"]["S"]) == {
        "analysis": {"error_rate": "pass", "latency": "pass"}}
    state = {"step": {"e": {"wave": 0, "phase": "BAKING"}}, "cur": {"weight": 10},
             "analysis": analysis_input([("shop", 0, pair)], True),
             "req": {"Item": {"sf_verdicts": {"S": first["flat"]}}}}
    again = evaluate(_judged(CHECKS), {
        "input": state, "context": {"State": {"EnteredTime": iso(NOW)}},
        "result": {"MetricDataResults": []}})["an"]
    # no data now: the verdicts changed (inconclusive), so there is an event again
    assert again["events"][0]["M"]["message"]["S"].startswith(
        "analysis: error_rate inconclusive, latency inconclusive (error_rate: the new ")
    same = evaluate(_judged(CHECKS), {
        "input": {**state, "req": {"Item": {"sf_verdicts": {"S": again["flat"]}}}},
        "context": {"State": {"EnteredTime": iso(NOW)}},
        "result": {"MetricDataResults": []}})["an"]
    assert same["events"] == []


def test_a_metric_aws_will_not_read_fails_the_check() -> None:
    pair = VersionSeries(lambda_series("shop", "2"), lambda_series("shop", "1"))
    state = {"step": {"e": {"wave": 0, "phase": "BAKING"}}, "cur": {"weight": 10},
             "analysis": analysis_input([("shop", 0, pair)], True), "req": {"Item": {}}}
    answer = {"MetricDataResults": [{"Id": "s0_requests", "StatusCode": "Forbidden",
                                     "Timestamps": [], "Values": [],
                                     "Messages": [{"Code": "Forbidden",
                                                   "Value": "not authorized"}]}]}
    an = evaluate(_judged(CHECKS), {"input": state, "result": answer,
                                    "context": {"State": {"EnteredTime": iso(NOW)}}})["an"]
    assert an["fail"] == "analysis: cannot read metric s0_requests: Forbidden not authorized"
    paged = evaluate(_judged(CHECKS), {"input": state, "context": {"State": {
        "EnteredTime": iso(NOW)}}, "result": {"MetricDataResults": [], "NextToken": "x"}})
    assert paged["an"]["fail"].startswith("analysis: cannot read metrics: the answer came in")


def test_targets_in_two_accounts_are_read_one_call_each_and_judged_together() -> None:
    """SPEC §13: one GetMetricData per account (the other with its role's credentials),
    the answers judged together as the local engine judges each subject in its place."""
    from deployer.stepfunctions.analysis import measure_states

    role = "arn:aws:iam::222233334444:role/deployer-target"
    runner = AwsContext(region="us-east-1")
    there = runner.place("us-east-1", role)
    here_pair = VersionSeries(lambda_series("shop", "2"), lambda_series("shop", "1"))
    there_pair = VersionSeries(lambda_series("shop", "5"), lambda_series("shop", "4"))
    put_points(SCENARIOS["healthy"], here_pair)
    saved = boto3.client  # the other account's data, put with its role's credentials
    try:
        boto3.client = lambda service, **kwargs: there.client(service)  # type: ignore[assignment]
        put_points(SCENARIOS["bad canary"], there_pair)
    finally:
        boto3.client = saved  # type: ignore[assignment]
    expected = local(CHECKS, [Subject("here", here_pair, False, runner),
                              Subject("there", there_pair, False, there)])
    states = measure_states(CHECKS, "Bake", "BakeNote", "Rollback", [role])
    state: dict[str, Any] = {
        "step": {"e": {"wave": 0, "phase": "BAKING"}}, "cur": {"weight": 10},
        "analysis": analysis_input([("here", 0, here_pair), ("there", 0, there_pair)], False,
                                   {"there": role}), "req": {"Item": {}}}
    context = {"State": {"EnteredTime": NOW.strftime("%Y-%m-%dT%H:%M:%S.000Z")}}
    for name, client in (("BakeMeasure", runner.client("cloudwatch")),
                         ("BakeMeasureAs0", there.client("cloudwatch"))):
        arguments = states[name]["Arguments"]
        asked = {"input": state, "context": context}
        answer = client.get_metric_data(
            MetricDataQueries=evaluate(arguments["MetricDataQueries"], asked),
            StartTime=evaluate(arguments["StartTime"], asked),
            EndTime=evaluate(arguments["EndTime"], asked), ScanBy="TimestampAscending")
        for result in answer["MetricDataResults"]:
            result["Timestamps"] = [t.isoformat() for t in result["Timestamps"]]
        answer.pop("ResponseMetadata", None)
        state = evaluate(states[name]["Output"], {**asked, "result": answer})
    judged = evaluate(states["BakeJudged"]["Output"], {"input": state, "context": context})
    assert "mr" not in judged  # the answers are not kept in the state
    an = judged["an"]
    assert an["fail"] == expected.reason
    assert an["fail"].startswith("analysis: there: error_rate of version 5 is 30.0%")
    assert machine_document(an) == comparable(expected.analysis)


def test_an_account_with_no_target_in_play_asks_for_nothing_real() -> None:
    """Wave 1 is the runner's account only: the other account's call (made every poll)
    asks for a metric that does not exist — GetMetricData takes no empty list — and
    its empty answer changes no verdict."""
    from deployer.stepfunctions.analysis import NOTHING, _queries

    role = "arn:aws:iam::222233334444:role/deployer-target"
    here = VersionSeries(lambda_series("shop", "2"), lambda_series("shop", "1"))
    there = VersionSeries(lambda_series("shop", "5"), lambda_series("shop", "4"))
    state = {"step": {"e": {"wave": 0}}, "analysis": analysis_input(
        [("here", 0, here), ("there", 1, there)], False, {"there": role})}
    asked = {"input": state, "context": {"State": {"EnteredTime": iso(NOW)}}}
    assert evaluate(_queries(CHECKS, role), asked) == [NOTHING]
    mine = evaluate(_queries(CHECKS, None), asked)
    assert {q["Id"] for q in mine} == {"s0_requests", "s0_errors", "s0_latency",
                                       "s1_requests", "s1_errors", "s1_latency"}
    answer = boto3.client("cloudwatch").get_metric_data(
        MetricDataQueries=[NOTHING], StartTime=NOW - timedelta(minutes=5), EndTime=NOW)
    assert [r["Values"] for r in answer["MetricDataResults"]] == [[]]
