"""MetricAnalysis against moto in-process: metric data put with put_metric_data
(backdated to whole minutes, dimensions in SPEC §7's order, which moto needs: it
matches dimension lists in order), one GetMetricData call per poll, the verdict
and the record's analysis document. Stubber where moto cannot say what AWS says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from deployer.aws import AwsContext
from deployer.checks.analysis import MetricAnalysis, Subject, window_ending
from deployer.core.ports import VersionSeries
from deployer.demo.ecs_world import create_ecs_world
from deployer.demo.world import create_lambda_world
from deployer.errors import CheckFailed
from deployer.plan.model import ChecksSpec, EcsTarget, LambdaTarget
from deployer.targets.ecs_alb import EcsAlbTarget
from deployer.targets.lambda_alias import LambdaAliasTarget
from tests.fakes import FakeClock

pytestmark = pytest.mark.usefixtures("moto_aws")

CHECKS = {"alarms": [], "metrics": {"error_rate": {"max_vs_stable": "2x"},
                                    "latency": {"max": "800ms"}},
          "window": "5m", "min_requests": 50}


def now() -> datetime:
    return datetime.now(UTC)


def put(series: Any, minutes_ago: int, **values: float) -> None:
    """One datapoint per metric, `minutes_ago` whole minutes back."""
    at = now().replace(second=0, microsecond=0) - timedelta(minutes=minutes_ago)
    names = {"requests": series.requests, "errors": series.errors, "latency": series.latency}
    boto3.client("cloudwatch").put_metric_data(Namespace=series.namespace, MetricData=[
        {"MetricName": names[kind], "Timestamp": at, "Value": value,
         "Dimensions": [{"Name": k, "Value": v} for k, v in series.dimensions]}
        for kind, value in values.items()])


def lambda_pair() -> VersionSeries:
    world = create_lambda_world(None, function="shop", alarms=())  # type: ignore[arg-type]
    target = LambdaAliasTarget(LambdaTarget(function="shop", alias="live", version=world.new),
                               AwsContext(), FakeClock(),
                               {"stable_version": world.stable, "new_version": world.new})
    return target.metric_series()


def analysis(pair: VersionSeries, **changes: Any) -> MetricAnalysis:
    spec = ChecksSpec.model_validate({**CHECKS, **changes})
    return MetricAnalysis(spec, AwsContext(), lambda at_full: [Subject(None, pair, at_full)],
                          now)


def test_lambda_series_are_per_executed_version_under_the_alias() -> None:
    pair = lambda_pair()
    assert pair.new.dimensions == (("FunctionName", "shop"), ("Resource", "shop:live"),
                                   ("ExecutedVersion", "2"))
    assert pair.stable.label == "version 1"


def test_a_bad_canary_fails_with_both_versions_numbers() -> None:
    pair = lambda_pair()
    put(pair.new, 1, requests=110, errors=33, latency=120)
    put(pair.stable, 1, requests=600, errors=6, latency=100)
    put(pair.stable, 2, requests=400, errors=4, latency=100)
    check = analysis(pair)
    result = check.evaluate()
    assert not result.healthy
    assert result.reason == ("analysis: error_rate of version 2 is 30.0% (33/110) vs 1.0% "
                             "(10/1000) on version 1")
    entry = result.analysis["error_rate"]  # type: ignore[index]
    assert entry["verdict"] == "fail"
    assert entry["new"] == {"version": "2", "requests": 110, "errors": 33, "value": 30.0}
    assert entry["stable"] == {"version": "1", "requests": 1000, "errors": 10, "value": 1.0}
    assert entry["bound"] == "max_vs_stable 2x"
    assert result.analysis["latency"]["verdict"] == "pass"  # type: ignore[index]
    assert check.reader.calls == 1  # one GetMetricData for every metric of both versions


def test_a_healthy_canary_passes() -> None:
    pair = lambda_pair()
    put(pair.new, 1, requests=110, errors=1, latency=120)
    put(pair.stable, 1, requests=1000, errors=10, latency=100)
    result = analysis(pair).evaluate()
    assert result.healthy and result.inconclusive is None
    assert {e["verdict"] for e in result.analysis.values()} == {"pass"}  # type: ignore[union-attr]


def test_no_data_is_inconclusive_never_a_pass() -> None:
    result = analysis(lambda_pair()).evaluate()
    assert result.healthy
    assert result.inconclusive is not None
    assert "error_rate: the new version has 0 requests in the window, fewer than " \
           "min_requests 50" in result.inconclusive


def test_data_outside_the_window_does_not_count() -> None:
    pair = lambda_pair()
    put(pair.new, 7, requests=500, errors=400, latency=100)
    put(pair.stable, 7, requests=500, errors=0, latency=100)
    result = analysis(pair).evaluate()
    assert result.healthy and result.inconclusive


def test_absolute_latency_bound_at_full() -> None:
    pair = lambda_pair()
    put(pair.new, 1, requests=200, errors=0, latency=950)
    result = analysis(pair).evaluate(at_full=True)
    assert not result.healthy
    assert result.reason == ("analysis: latency of version 2 is 950ms (200 requests), above "
                             "max 800ms")


def test_ecs_is_judged_by_target_group() -> None:
    world = create_ecs_world(None)  # type: ignore[arg-type]
    spec = EcsTarget.model_validate({"cluster": world.cluster, "listener": world.listener,
                                     "services": {"blue": world.blue, "green": world.green},
                                     "task_definition": world.task_definition})
    target = EcsAlbTarget(spec, AwsContext(), FakeClock())
    target.preflight(resuming=False)
    pair = target.metric_series()
    balancer = world.listener.split(":")[-1].split("/", 1)[1].rsplit("/", 1)[0]
    assert pair.new.dimensions == (("LoadBalancer", balancer),
                                   ("TargetGroup", world.green_group.split(":")[-1]))
    assert pair.new.label.startswith("target group green (shop-green")
    put(pair.new, 1, requests=300, latency=0.12)                 # no 5xx datapoint: 0 errors
    put(pair.stable, 1, requests=3000, errors=3, latency=0.1)
    result = analysis(pair).evaluate()
    assert result.healthy
    assert result.analysis["error_rate"]["new"]["errors"] == 0   # type: ignore[index]
    assert result.analysis["latency"]["new"]["value"] == 120.0   # type: ignore[index]
    put(pair.new, 0, requests=100, errors=60, latency=0.2)
    result = analysis(pair).evaluate()
    assert result.reason is not None
    assert result.reason.startswith("analysis: error_rate of target group green (shop-green) "
                                    "is 15.0% (60/400) vs 0.1% (3/3000) on target group blue")


def test_windows_are_whole_minutes_with_the_current_one() -> None:
    window = window_ending(datetime(2026, 11, 28, 10, 7, 31, tzinfo=UTC), 300)
    assert (window.start, window.end) == (datetime(2026, 11, 28, 10, 3, tzinfo=UTC),
                                          datetime(2026, 11, 28, 10, 8, tzinfo=UTC))


def test_queries_use_sum_and_average_in_spec_dimension_order_and_batch_by_500(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pair = lambda_pair()
    check = analysis(pair)
    sent: list[dict[str, Any]] = []
    real_call = check.reader.aws.call

    def recording(function: Any, **kwargs: Any) -> Any:
        sent.append(kwargs)
        return real_call(function, **kwargs)

    monkeypatch.setattr(check.reader.aws, "call", recording)
    check.reader.read([pair.new, pair.stable] * 100, window_ending(now(), 300))  # 600 queries
    assert [len(call["MetricDataQueries"]) for call in sent] == [500, 100]
    first = sent[0]["MetricDataQueries"][:3]
    assert [q["MetricStat"]["Stat"] for q in first] == ["Sum", "Sum", "Average"]
    assert [q["MetricStat"]["Metric"]["MetricName"] for q in first] == [
        "Invocations", "Errors", "Duration"]
    assert [d["Name"] for d in first[0]["MetricStat"]["Metric"]["Dimensions"]] == [
        "FunctionName", "Resource", "ExecutedVersion"]
    assert all(q["MetricStat"]["Period"] == 60 for q in sent[0]["MetricDataQueries"])
    assert check.reader.calls == 2


def test_unreadable_metrics_fail_closed() -> None:
    pair = lambda_pair()
    check = analysis(pair)
    with Stubber(check.reader.client) as stubber:
        stubber.add_client_error("get_metric_data", "AccessDenied", "not allowed")
        with pytest.raises(CheckFailed, match="analysis: cannot read metrics"):
            check.evaluate()


def test_every_target_of_an_application_in_one_call() -> None:
    pair = lambda_pair()
    put(pair.new, 1, requests=110, errors=33, latency=120)
    put(pair.stable, 1, requests=1000, errors=10, latency=100)
    spec = ChecksSpec.model_validate(CHECKS)
    check = MetricAnalysis(spec, AwsContext(), lambda full: [
        Subject("cart", pair, full), Subject("checkout", pair, True)], now)
    result = check.evaluate()
    assert result.reason is not None
    assert result.reason.startswith("analysis: cart: error_rate of version 2 is 30.0%")
    assert result.analysis is not None
    assert result.analysis["cart"]["error_rate"]["verdict"] == "fail"
    assert result.analysis["checkout"]["error_rate"]["verdict"] == "pass"  # at 100%: max only
    assert check.reader.calls == 1
