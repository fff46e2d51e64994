"""The analysis verdict on tables of counts (SPEC §7), and its two statistical tests
checked against statsmodels and scipy."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deployer.checks.verdict import (
    Sample,
    Verdict,
    binomial_sf,
    judge_error_rate,
    judge_latency,
    ratio_exact_test,
    ratio_score_test,
    welch_ratio_test,
)

F, INC, P = Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.PASS


def rate(new: tuple[int, int], stable: tuple[int, int], *, max_rate: float | None = None,
         ratio: float | None = 2.0, minimum: int = 50, full: bool = False) -> Verdict:
    return judge_error_rate(Sample(new[1], new[0]), Sample(stable[1], stable[0]),
                            max_rate=max_rate, max_ratio=ratio, min_requests=minimum,
                            at_full=full).verdict


@pytest.mark.parametrize(("new", "stable", "expected"), [
    ((1, 45), (10, 1000), INC),       # SPEC: 1 error in 45 against 1% is no verdict...
    ((1, 45), (10, 1000), P),       # ...and with min_requests 40 it is a pass, not a fail
    ((68, 225), (10, 1000), F),     # SPEC: 68 in 225 against 1% is
    ((33, 110), (10, 1000), F),
    ((0, 0), (0, 0), INC),            # no data at all is inconclusive, never a pass
    ((0, 500), (0, 0), INC),          # no stable data: the relative bound cannot be judged
    ((0, 500), (0, 5000), P),       # zero errors on both
    ((1, 500), (0, 5000), P),       # one stray error against none: not a verdict
    ((3, 500), (0, 5000), F),       # 0.6% against 0% of 5000: worse than 2x
    ((20, 500), (0, 5000), F),      # 4% against 0%
    ((25, 1000), (10, 1000), P),    # 2.5% vs 1% at 2x: not significantly above 2%
    ((60, 1000), (10, 1000), F),    # 6% vs 1%
    ((2_100_000, 100_000_000), (1_000_000, 100_000_000), F),  # huge: 2.1% vs 2x1% is real
    ((1_990_000, 100_000_000), (1_000_000, 100_000_000), P),
    ((500, 500), (500, 500), P),    # everything fails on both: not worse than stable
])
def test_relative_error_rate(new: tuple[int, int], stable: tuple[int, int],
                             expected: Verdict) -> None:
    minimum = 40 if expected == P and new == (1, 45) else 50
    assert rate(new, stable, minimum=minimum) == expected


def test_the_absolute_bound_needs_no_stable_data_and_is_judged_first() -> None:
    assert rate((30, 100), (0, 0), max_rate=2, ratio=None) == F
    assert rate((30, 100), (0, 10), max_rate=2) == F          # stable too small: still a fail
    assert rate((1, 100), (0, 0), max_rate=2, ratio=None) == P
    assert rate((3, 30), (0, 0), max_rate=2, ratio=None) == INC  # too few: not a verdict


def test_at_100_percent_only_max_applies_and_missing_stable_data_is_fine() -> None:
    assert rate((60, 1000), (0, 0), max_rate=10, full=True) == P
    assert rate((60, 1000), (0, 0), max_rate=5, full=True) == F
    assert rate((60, 1000), (0, 0), full=True) == P   # only a relative bound: nothing to judge
    assert rate((0, 10), (0, 0), max_rate=5, full=True) == INC


def test_a_failed_verdict_names_the_bound() -> None:
    judged = judge_error_rate(Sample(110, 33), Sample(1000, 10), max_rate=None, max_ratio=2,
                              min_requests=50, at_full=False)
    assert judged.bound == "max_vs_stable 2x"
    assert judged.p_value is not None and judged.p_value < 1e-6


@given(st.integers(0, 400), st.integers(1, 400), st.integers(0, 4000), st.integers(1, 4000),
       st.sampled_from([1.0, 1.5, 2.0, 3.0]))
@settings(max_examples=300, deadline=None)
def test_score_test_matches_statsmodels(x1: int, n1: int, x0: int, n0: int,
                                        ratio: float) -> None:
    from statsmodels.stats.proportion import test_proportions_2indep

    x1, x0 = min(x1, n1), min(x0, n0)
    ours = ratio_score_test(x1, n1, x0, n0, ratio)
    if x1 + x0 == 0 or (x1 == n1 and x0 == n0):
        return  # degenerate tables: statsmodels returns nan; ours says "no evidence"
    theirs = test_proportions_2indep(x1, n1, x0, n0, value=ratio, compare="ratio",
                                     alternative="larger", method="score",
                                     correction=False).pvalue
    assert ours == pytest.approx(theirs, abs=1e-6)


@given(st.lists(st.floats(1, 5000), min_size=2, max_size=10),
       st.lists(st.floats(1, 5000), min_size=2, max_size=10), st.sampled_from([1.0, 1.5, 2.0]))
@settings(max_examples=300, deadline=None)
def test_welch_test_matches_scipy(new: list[float], stable: list[float], ratio: float) -> None:
    from scipy import stats

    scaled = [ratio * v for v in stable]
    theirs = stats.ttest_ind(new, scaled, equal_var=False, alternative="greater").pvalue
    if math.isnan(theirs):  # both samples constant
        return
    assert welch_ratio_test(new, stable, ratio) == pytest.approx(theirs, abs=1e-6)


def minutes(*values: float, requests: int = 100) -> Sample:
    return Sample(requests * len(values), 0, tuple((v, requests) for v in values))


@pytest.mark.parametrize(("new", "stable", "max_ms", "ratio", "expected"), [
    (minutes(900, 950, 1000, 920, 980), minutes(400, 420, 390, 410, 405), None, 1.5, F),
    (minutes(420, 400, 430, 410, 405), minutes(400, 420, 390, 410, 405), None, 1.5, P),
    (minutes(500, 2000, 450, 480, 520), minutes(400, 420, 390, 410, 405), None, 1.5, P),  # a spike
    (minutes(900), minutes(400, 410), None, 1.5, INC),           # one minute: no spread
    (minutes(900, 950), minutes(400, 410), 800, None, F),      # absolute bound
    (minutes(700, 750), minutes(), 800, None, P),              # absolute: stable not needed
    (minutes(700, 750, requests=10), minutes(400, 410), 800, 1.5, INC),  # too few requests
    (Sample(0, 0), Sample(0, 0), 800, 1.5, INC),
])
def test_latency(new: Sample, stable: Sample, max_ms: float | None, ratio: float | None,
                 expected: Verdict) -> None:
    assert judge_latency(new, stable, max_ms=max_ms, max_ratio=ratio, min_requests=50,
                         at_full=False).verdict == expected


def test_latency_is_weighted_by_each_minutes_requests() -> None:
    assert Sample(110, 0, ((100.0, 100), (1000.0, 10))).latency == pytest.approx(
        (100 * 100 + 1000 * 10) / 110)


@given(st.integers(0, 300), st.integers(0, 300), st.floats(0.001, 0.999))
@settings(max_examples=300, deadline=None)
def test_binomial_tail_matches_scipy(successes: int, extra: int, probability: float) -> None:
    from scipy import stats

    trials = successes + extra
    expected = stats.binom.sf(successes - 1, trials, probability)
    assert binomial_sf(successes, trials, probability) == pytest.approx(expected, abs=1e-9)


def test_binomial_tail_at_large_counts() -> None:
    from scipy import stats

    assert binomial_sf(3_010_000, 6_000_000, 0.5) == pytest.approx(
        stats.binom.sf(3_009_999, 6_000_000, 0.5), rel=1e-6)


@pytest.mark.parametrize(("counts", "expected"), [
    ((1, 500, 0, 5000), 1 / 6),     # the one error is the new version's with p = 1000/6000
    ((0, 500, 4, 5000), 1.0),
])
def test_exact_test(counts: tuple[int, int, int, int], expected: float) -> None:
    assert ratio_exact_test(*counts, 2.0) == pytest.approx(expected)
