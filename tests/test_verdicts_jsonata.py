"""Parity: the Step Functions engine's verdict (a JSONata expression, run here by
jsonata-python as tests/sfn_moto.py runs it in moto) and the local engine's
(checks/verdict.py) give the same verdict on the same numbers — a few hundred
generated cases: healthy, clearly worse, borderline, too little data, no traffic,
sparse errors, high volume, at 100%."""

from __future__ import annotations

import json
import random
import re
from typing import Any

import jsonata
import pytest

from deployer.checks.verdict import Judgement, Sample, judge_error_rate, judge_latency
from deployer.plan.model import ChecksSpec
from deployer.stepfunctions.verdicts import EXACT_LIMIT, t_quantile, t_table, verdict_expression

CHECKS = ChecksSpec.model_validate({
    "alarms": ["a"], "min_requests": 50, "window": "5m",
    "metrics": {"error_rate": {"max": "5%", "max_vs_stable": "2x"},
                "latency": {"max": "800ms", "max_vs_stable": "1.5x"}}})
RELATIVE_ONLY = ChecksSpec.model_validate({
    "alarms": ["a"], "min_requests": 20, "window": "5m",
    "metrics": {"error_rate": {"max_vs_stable": "1.2x"},
                "latency": {"max_vs_stable": "1.1x"}}})


def side(rng: random.Random, requests: int, rate: float, latency: float,
         spread: float) -> dict[str, Any]:
    errors = sum(1 for _ in range(requests) if rng.random() < rate) if requests < 20000 \
        else round(requests * rate * rng.uniform(0.9, 1.1))
    minutes = []
    left = requests
    for minute in range(5):
        n = left if minute == 4 else rng.randint(0, left)
        left -= n
        minutes.append({"v": round(max(1.0, rng.gauss(latency, spread)), 3), "n": n})
    return {"requests": requests, "errors": min(errors, requests), "minutes": minutes}


def cases(count: int) -> list[tuple[dict[str, Any], dict[str, Any], bool]]:
    rng = random.Random(20261205)
    shapes = [
        # (new requests, stable requests, new rate, stable rate, new ms, stable ms, spread)
        lambda: (rng.randint(50, 2000), rng.randint(500, 20000), 0.01, 0.01, 200, 200, 20),
        lambda: (rng.randint(100, 2000), rng.randint(500, 20000), 0.3, 0.01, 900, 200, 30),
        lambda: (rng.randint(50, 500), rng.randint(500, 5000), 0.021, 0.01, 310, 200, 40),
        lambda: (rng.randint(0, 60), rng.randint(0, 60), 0.05, 0.01, 250, 200, 30),
        lambda: (0, 0, 0.0, 0.0, 200, 200, 10),
        lambda: (rng.randint(200, 900), rng.randint(2000, 9000), 0.002, 0.0, 205, 200, 5),
        lambda: (rng.randint(30000, 90000), rng.randint(100000, 300000), 0.025, 0.012,
                 260, 200, 15),
        lambda: (rng.randint(50, 3000), rng.randint(50, 3000), rng.uniform(0, 0.08),
                 rng.uniform(0, 0.05), rng.uniform(100, 500), rng.uniform(100, 500),
                 rng.uniform(1, 80)),
    ]
    made = []
    for index in range(count):
        n_new, n_old, r_new, r_old, ms_new, ms_old, spread = shapes[index % len(shapes)]()
        made.append((side(rng, n_new, r_new, ms_new, spread),
                     side(rng, n_old, r_old, ms_old, spread), rng.random() < 0.15))
    return made


def sample(data: dict[str, Any]) -> Sample:
    return Sample(data["requests"], data["errors"],
                  tuple((m["v"], m["n"]) for m in data["minutes"]))


def local_verdicts(checks: ChecksSpec, new: dict[str, Any], stable: dict[str, Any],
                   at_full: bool) -> dict[str, str]:
    metrics = checks.metrics
    assert metrics is not None and metrics.error_rate and metrics.latency
    rate = judge_error_rate(sample(new), sample(stable), max_rate=metrics.error_rate.max,
                            max_ratio=metrics.error_rate.max_vs_stable,
                            min_requests=checks.min_requests, at_full=at_full)
    latency = metrics.latency
    slow = judge_latency(sample(new), sample(stable),
                         max_ms=None if latency.max is None else latency.max * 1000,
                         max_ratio=latency.max_vs_stable, min_requests=checks.min_requests,
                         at_full=at_full)
    return {"error_rate": verdict_and_why(rate), "latency": verdict_and_why(slow)}


def verdict_and_why(judged: Judgement) -> str:
    """The verdict and its text; the local engine's p-value is the machine's "significant
    at 95%" (the machine compares with a critical value and computes no p)."""
    why = re.sub(r"\(p=[^)]*\)", "(significant at 95%)", judged.why) \
        if judged.verdict.value == "fail" else judged.why
    return f"{judged.verdict.value}: {why}"


def machine_verdicts(expression: str, subjects: dict[str, Any], at_full: bool
                     ) -> dict[str, Any]:
    body = expression.strip().removeprefix("{%").removesuffix("%}")
    states = {"input": {"judge": {"subjects": subjects, "atFull": at_full}}}
    return dict(jsonata.Jsonata(f"($states := {json.dumps(states)}; {body})").evaluate(None))


PARITY = [pytest.param(CHECKS, 100, id="bounds"), pytest.param(RELATIVE_ONLY, 60, id="relative"),
          pytest.param(CHECKS, 480, id="bounds-more", marks=pytest.mark.slow),
          pytest.param(RELATIVE_ONLY, 480, id="relative-more", marks=pytest.mark.slow)]


@pytest.mark.parametrize(("checks", "count"), PARITY)
def test_both_engines_give_the_same_verdicts(checks: ChecksSpec, count: int) -> None:
    expression = verdict_expression(checks)
    generated = cases(count)
    seen: dict[str, set[str]] = {"error_rate": set(), "latency": set()}
    for at_full in (False, True):
        batch = [(new, stable) for new, stable, full in generated if full == at_full]
        subjects = {f"t{i}": {"new": new, "stable": stable} for i, (new, stable)
                    in enumerate(batch)}
        machine = machine_verdicts(expression, subjects, at_full)
        for name, (new, stable) in zip(subjects, batch, strict=True):
            local = local_verdicts(checks, new, stable, at_full)
            said = {metric: f"{e['verdict']}: {e['why']}" for metric, e in machine[name].items()}
            assert said == local, (name, new["requests"], new["errors"],
                                            stable["requests"], stable["errors"], at_full)
            for metric, verdict in local.items():
                seen[metric].add(verdict.split(":")[0])
    # the cases reach every verdict of both metrics
    assert seen == {"error_rate": {"pass", "fail", "inconclusive"},
                    "latency": {"pass", "fail", "inconclusive"}}


def test_sparse_errors_are_no_verdict_on_either_engine() -> None:
    """One error in 500 against none in 5,000: the score test alone says p=0.013;
    the exact test (p=0.17) keeps it from being a fail (checks/verdict.py)."""
    new = {"requests": 500, "errors": 1, "minutes": [{"v": 200, "n": 500}]}
    stable = {"requests": 5000, "errors": 0, "minutes": [{"v": 200, "n": 5000}]}
    machine = machine_verdicts(verdict_expression(RELATIVE_ONLY), {"x": {
        "new": new, "stable": stable}}, False)
    assert machine["x"]["error_rate"]["verdict"] == "pass"
    assert local_verdicts(RELATIVE_ONLY, new, stable, False)["error_rate"].startswith("pass")


def test_the_t_table_is_within_1e_5_of_the_quantile_between_its_points() -> None:
    table = t_table()
    for df in (1.37, 2.5, 3.01, 7.77, 19.2, 55.5, 140.0):
        u = 1 / df
        i = int(u / 0.001)
        w = u / 0.001 - i
        interpolated = table[i] * (1 - w) + table[i + 1] * w
        assert abs(interpolated - t_quantile(df)) < 1e-5, df


def test_the_expression_is_what_step_functions_parses() -> None:
    expression = verdict_expression(CHECKS)
    code = re.sub(r'"(?:\\.|[^"\\])*"', '""', expression)
    assert expression.startswith("{%") and expression.endswith("%}")
    assert "??" not in code and "?:" not in code and "$eval(" not in code
    assert len(expression) < 60_000  # a small part of the 1 MB definition
    assert EXACT_LIMIT >= 1000
