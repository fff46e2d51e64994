"""Version-aware analysis (SPEC §7): at every poll, one GetMetricData call reads both
versions' requests, errors and latency over the trailing window, and the verdict
(deployer/checks/verdict.py) judges the new version against the stable one.

Windows are real time, whatever --time-scale is: the data is CloudWatch's, in
1-minute periods. The window is aligned to whole minutes and includes the current,
still incomplete minute (a datapoint may arrive minutes late; a partial minute only
lowers the counts, which min_requests guards). Metrics that cannot be read fail
the check, as an unreadable alarm does: what deployer cannot judge is never a pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from deployer.aws import AwsContext
from deployer.checks.verdict import Judgement, Sample, Verdict, judge_error_rate, judge_latency
from deployer.core.clock import iso
from deployer.core.ports import CheckResult, MetricSeries, VersionSeries
from deployer.errors import CheckFailed, DeployerError
from deployer.plan.model import ChecksSpec

BATCH = 500       # GetMetricData's limit of queries per call
PERIOD = 60


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime


def window_ending(now: datetime, seconds: float) -> Window:
    """`seconds` (whole minutes) of 1-minute periods, the current minute included."""
    end = now.replace(second=0, microsecond=0) + timedelta(seconds=PERIOD)
    return Window(end - timedelta(seconds=seconds), end)


class MetricReader:
    """Many series' requests, errors and latency over one window: one GetMetricData
    call per 500 queries (and per page, for windows too long for one)."""

    def __init__(self, aws: AwsContext, *, errors: bool = True, latency: bool = True) -> None:
        self.aws = aws
        self.client = aws.client("cloudwatch")
        self.kinds = ("requests", *(("errors",) if errors else ()),
                      *(("latency",) if latency else ()))
        self.calls = 0

    def read(self, series: Sequence[MetricSeries], window: Window) -> list[Sample]:
        queries = [self._query(i, kind, s) for i, s in enumerate(series) for kind in self.kinds]
        values: dict[str, dict[datetime, float]] = {}
        for start in range(0, len(queries), BATCH):
            values.update(self._fetch(queries[start:start + BATCH], window))
        return [self._sample(i, s, values) for i, s in enumerate(series)]

    @staticmethod
    def _query(index: int, kind: str, series: MetricSeries) -> dict[str, Any]:
        name = {"requests": series.requests, "errors": series.errors,
                "latency": series.latency}[kind]
        return {"Id": f"s{index}_{kind}", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": series.namespace, "MetricName": name,
                       "Dimensions": [{"Name": k, "Value": v} for k, v in series.dimensions]},
            "Period": PERIOD, "Stat": "Average" if kind == "latency" else "Sum"}}

    def _fetch(self, queries: list[dict[str, Any]], window: Window
               ) -> dict[str, dict[datetime, float]]:
        found: dict[str, dict[datetime, float]] = {q["Id"]: {} for q in queries}
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": window.start,
                                      "EndTime": window.end, "ScanBy": "TimestampAscending"}
            if token:
                kwargs["NextToken"] = token
            try:
                response = self.aws.call(self.client.get_metric_data, **kwargs)
            except ClientError as exc:
                raise CheckFailed(f"analysis: cannot read metrics: {exc}") from exc
            self.calls += 1
            for result in response.get("MetricDataResults", []):
                if result.get("StatusCode") in ("Forbidden", "InternalError"):
                    raise CheckFailed(f"analysis: cannot read metric {result['Id']}: "
                                      f"{result.get('StatusCode')} "
                                      f"{result.get('Messages') or ''}".strip())
                series = found.setdefault(result["Id"], {})
                for at, value in zip(result.get("Timestamps", []), result.get("Values", []),
                                     strict=False):
                    series[at] = float(value)
            token = response.get("NextToken")
            if not token:
                return found

    def _sample(self, index: int, series: MetricSeries,
                values: dict[str, dict[datetime, float]]) -> Sample:
        requests = values.get(f"s{index}_requests", {})
        errors = values.get(f"s{index}_errors", {})  # ALB: no datapoint = no 5xx
        latency = values.get(f"s{index}_latency", {})
        minutes = tuple((value * series.latency_to_ms, int(requests.get(at, 0)))
                        for at, value in sorted(latency.items()))
        return Sample(int(sum(requests.values())), int(sum(errors.values())), minutes)


@dataclass(frozen=True, slots=True)
class Subject:
    """One target's two versions to judge; `name` is None for a single-target run."""

    name: str | None
    pair: VersionSeries
    at_full: bool
    aws: AwsContext | None = None  # where its metrics are (SPEC §13); None: the run's


class MetricAnalysis:
    """The Check behind checks.metrics. `subjects(at_full)` gives every target's two
    series once the target knows them (after prepare); all of them are read in one
    GetMetricData call (per 500 queries)."""

    def __init__(self, spec: ChecksSpec, aws: AwsContext,
                 subjects: Callable[[bool], list[Subject]],
                 wall: Callable[[], datetime]) -> None:
        assert spec.metrics is not None
        self.spec = spec
        self.metrics = spec.metrics
        self.subjects = subjects
        self.wall = wall
        self.aws = aws
        self.readers: dict[int, MetricReader] = {}
        self.reader = self._reader(aws)

    def start(self) -> CheckResult:
        return CheckResult(True)

    def evaluate(self, *, at_full: bool = False) -> CheckResult:
        try:
            subjects = self.subjects(at_full)
        except DeployerError:  # no new version yet (before prepare): nothing to judge
            return CheckResult(True)
        if not subjects:
            return CheckResult(True)
        now = self.wall()
        samples = self._read(subjects, window_ending(now, self.spec.window))
        document: dict[str, Any] = {}
        reason: str | None = None
        unsure: list[str] = []
        for index, subject in enumerate(subjects):
            new, stable = samples[2 * index], samples[2 * index + 1]
            judged = self.judge(new, stable, subject.at_full)
            entries = {metric: _entry(j, metric, new, stable, subject.pair, iso(now))
                       for metric, j in judged.items()}
            named = f"{subject.name}: " if subject.name else ""
            if subject.name is None:
                document = entries
            else:
                document[subject.name] = entries
            for metric, judgement in judged.items():
                if judgement.verdict == Verdict.FAIL and reason is None:
                    text = fail_reason(metric, judgement, new, stable, subject.pair)
                    reason = "analysis: " + named + text.removeprefix("analysis: ")
                elif judgement.verdict == Verdict.INCONCLUSIVE:
                    unsure.append(f"{named}{metric}: {judgement.why}")
        return CheckResult(reason is None, reason=reason, analysis=document,
                           inconclusive="; ".join(unsure) or None)

    def _reader(self, aws: AwsContext) -> MetricReader:
        if id(aws) not in self.readers:
            self.readers[id(aws)] = MetricReader(
                aws, errors=self.metrics.error_rate is not None,
                latency=self.metrics.latency is not None)
        return self.readers[id(aws)]

    @property
    def calls(self) -> int:
        return sum(reader.calls for reader in self.readers.values())

    def _read(self, subjects: list[Subject], window: Window) -> list[Sample]:
        """Both versions of every subject: one GetMetricData (per 500 queries) for each
        region and account the subjects are in; samples in the subjects' order."""
        places: dict[int, list[int]] = {}
        for index, subject in enumerate(subjects):
            places.setdefault(id(subject.aws or self.aws), []).append(index)
        samples: list[Sample] = [Sample(0, 0)] * (2 * len(subjects))
        for indexes in places.values():
            reader = self._reader(subjects[indexes[0]].aws or self.aws)
            read = reader.read([s for i in indexes
                                for s in (subjects[i].pair.new, subjects[i].pair.stable)],
                               window)
            for position, index in enumerate(indexes):
                samples[2 * index], samples[2 * index + 1] = read[2 * position:2 * position + 2]
        return samples

    def judge(self, new: Sample, stable: Sample, at_full: bool) -> dict[str, Judgement]:
        judged: dict[str, Judgement] = {}
        minimum = self.spec.min_requests
        if self.metrics.error_rate is not None:
            bound = self.metrics.error_rate
            judged["error_rate"] = judge_error_rate(
                new, stable, max_rate=bound.max, max_ratio=bound.max_vs_stable,
                min_requests=minimum, at_full=at_full)
        if self.metrics.latency is not None:
            latency = self.metrics.latency
            judged["latency"] = judge_latency(
                new, stable, max_ms=None if latency.max is None else latency.max * 1000,
                max_ratio=latency.max_vs_stable, min_requests=minimum, at_full=at_full)
        return judged


def _entry(judged: Judgement, metric: str, new: Sample, stable: Sample, pair: VersionSeries,
           at: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"verdict": judged.verdict.value, "why": judged.why,
                             "new": _side(metric, new, pair.new),
                             "stable": _side(metric, stable, pair.stable), "at": at}
    if judged.bound:
        entry["bound"] = judged.bound
    if judged.p_value is not None:
        entry["p_value"] = round(judged.p_value, 6)
    return entry


def _side(metric: str, sample: Sample, series: MetricSeries) -> dict[str, Any]:
    side: dict[str, Any] = {**series.ident, "requests": sample.requests}
    if metric == "error_rate":
        side["errors"] = sample.errors
        value = sample.error_rate
    else:
        value = sample.latency
    side["value"] = None if value is None else round(value, 3)
    return side


def fail_reason(metric: str, judged: Judgement, new: Sample, stable: Sample,
                pair: VersionSeries) -> str:
    """SPEC §7's reason: `analysis: error_rate of version 7 is 30.0% (33/110) vs 1.0%
    (10/1000) on version 6`; without stable data, the bound the new version broke."""
    if metric == "error_rate":
        this = f"{new.error_rate or 0:.1f}% ({new.errors}/{new.requests})"
        other = (f"{stable.error_rate:.1f}% ({stable.errors}/{stable.requests})"
                 if stable.error_rate is not None else None)
    else:
        this = f"{new.latency or 0:.0f}ms ({new.requests} requests)"
        other = (f"{stable.latency:.0f}ms ({stable.requests} requests)"
                 if stable.latency is not None else None)
    text = f"analysis: {metric} of {pair.new.label} is {this}"
    if other is None:
        return f"{text}, {judged.why}"
    return f"{text} vs {other} on {pair.stable.label}"
