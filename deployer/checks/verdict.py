"""The analysis verdict (SPEC §7): the new version's numbers against the stable one's.

Pure: counts in, verdict out. Per metric:
- **inconclusive** when a bound cannot be judged: the new version has fewer than
  `min_requests` in the window (every bound), or, for a relative bound, the stable
  one has (except at 100%, where only the absolute bounds apply);
- **fail** when the new version breaks `max` (observed value), or is worse than
  `max_vs_stable` × stable's and that is significant at 95% (one-sided);
- **pass** otherwise. No data is never a pass.

The tests:
- error rate vs stable: H0: p_new <= r * p_stable, one-sided at 95%, by two tests
  that must both reject: the Farrington–Manning score test for a ratio of two
  proportions, and the exact conditional test for a ratio of two Poisson rates
  (which keeps sparse errors, e.g. one in 500 against none, from being a verdict);
- latency vs stable: Welch's t-test on the per-minute averages, H0: mean_new <=
  r * mean_stable, one-sided at 95% (each minute is one observation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    PASS = "pass"
    INCONCLUSIVE = "inconclusive"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Sample:
    """One version's numbers over the window: requests and errors summed, and the
    per-minute latency averages (ms) with the requests of each minute."""

    requests: int
    errors: int
    minute_latencies: tuple[tuple[float, int], ...] = ()

    @property
    def error_rate(self) -> float | None:
        return 100.0 * self.errors / self.requests if self.requests else None

    @property
    def latency(self) -> float | None:
        """Mean latency in ms, each minute weighted by its requests."""
        weight = sum(n for _, n in self.minute_latencies)
        if not weight:
            return None
        return sum(v * n for v, n in self.minute_latencies) / weight


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    why: str                      # what decided it, for the reason and the record
    bound: str | None = None      # the bound that failed, e.g. "max_vs_stable 2x"
    p_value: float | None = None


def judge_error_rate(new: Sample, stable: Sample, *, max_rate: float | None,
                     max_ratio: float | None, min_requests: int,
                     at_full: bool) -> Judgement:
    """`max_rate` in percent; `max_ratio` a multiple of stable's rate."""
    if new.requests < min_requests:
        return _too_few("new", new.requests, min_requests)
    rate = 100.0 * new.errors / new.requests
    if max_rate is not None and rate > max_rate:
        return Judgement(Verdict.FAIL, f"above max {max_rate:g}%", f"max {max_rate:g}%")
    if max_ratio is None or at_full:
        return Judgement(Verdict.PASS, "within bounds")
    if stable.requests < min_requests:
        return _too_few("stable", stable.requests, min_requests)
    p = max(ratio_score_test(new.errors, new.requests, stable.errors, stable.requests,
                             max_ratio),
            ratio_exact_test(new.errors, new.requests, stable.errors, stable.requests,
                             max_ratio))
    if p < 0.05:
        return Judgement(Verdict.FAIL, f"more than {max_ratio:g}x stable's (p={p:.3g})",
                         f"max_vs_stable {max_ratio:g}x", p)
    return Judgement(Verdict.PASS, "within bounds", p_value=p)


def judge_latency(new: Sample, stable: Sample, *, max_ms: float | None,
                  max_ratio: float | None, min_requests: int, at_full: bool) -> Judgement:
    if new.requests < min_requests or new.latency is None:
        return _too_few("new", new.requests, min_requests)
    if max_ms is not None and new.latency > max_ms:
        return Judgement(Verdict.FAIL, f"above max {max_ms:g}ms", f"max {max_ms:g}ms")
    if max_ratio is None or at_full:
        return Judgement(Verdict.PASS, "within bounds")
    if stable.requests < min_requests or stable.latency is None:
        return _too_few("stable", stable.requests, min_requests)
    new_minutes = [v for v, n in new.minute_latencies if n]
    stable_minutes = [v for v, n in stable.minute_latencies if n]
    if len(new_minutes) < 2 or len(stable_minutes) < 2:
        return Judgement(Verdict.INCONCLUSIVE, "fewer than 2 minutes with latency data on "
                                               "each side")
    p = welch_ratio_test(new_minutes, stable_minutes, max_ratio)
    if p < 0.05 and new.latency > max_ratio * stable.latency:
        return Judgement(Verdict.FAIL, f"more than {max_ratio:g}x stable's (p={p:.3g})",
                         f"max_vs_stable {max_ratio:g}x", p)
    return Judgement(Verdict.PASS, "within bounds", p_value=p)


def _too_few(side: str, requests: int, min_requests: int) -> Judgement:
    return Judgement(Verdict.INCONCLUSIVE, f"the {side} version has {requests} requests in "
                                           f"the window, fewer than min_requests {min_requests}")


# ---------------------------------------------------------------- the tests

def ratio_score_test(x_new: int, n_new: int, x_stable: int, n_stable: int,
                     ratio: float) -> float:
    """One-sided p-value of H0: p_new <= ratio * p_stable (Farrington & Manning, 1990).

    The score statistic uses the variance under the restricted maximum-likelihood
    estimates (p_new = ratio * p_stable), which holds its size at small counts far
    better than the Wald test, and is defined when either side has no errors."""
    if n_new <= 0 or n_stable <= 0:
        raise ValueError("both versions need requests")
    p_new, p_stable = x_new / n_new, x_stable / n_stable
    difference = p_new - ratio * p_stable
    a = (n_new + n_stable) * ratio
    b = -(n_new * ratio + x_new + n_stable + x_stable * ratio)
    c = x_new + x_stable
    # The smaller root of a*p^2 + b*p + c = 0 is the restricted MLE of p_stable.
    restricted = (-b - math.sqrt(max(b * b - 4 * a * c, 0.0))) / (2 * a)
    restricted_new = min(ratio * restricted, 1.0)
    variance = (restricted_new * (1 - restricted_new) / n_new
                + ratio ** 2 * restricted * (1 - restricted) / n_stable)
    if variance <= 0:
        return 0.0 if difference > 0 else 1.0
    return _normal_sf(difference / math.sqrt(variance))


def ratio_exact_test(x_new: int, n_new: int, x_stable: int, n_stable: int,
                     ratio: float) -> float:
    """One-sided p-value of H0: rate_new <= ratio * rate_stable, conditional on the
    total number of errors (the exact test for two Poisson rates): under H0 each error
    is the new version's with probability ratio*n_new / (ratio*n_new + n_stable).

    The score test is too eager when errors are sparse (one error in 500 against none
    in 5,000 gives p=0.013 there; here p=0.17): a fail needs both tests."""
    errors = x_new + x_stable
    if x_new == 0:
        return 1.0
    share = ratio * n_new / (ratio * n_new + n_stable)
    return binomial_sf(x_new, errors, share)


def binomial_sf(successes: int, trials: int, probability: float) -> float:
    """P(X >= successes) for X ~ Binomial(trials, probability)."""
    if successes <= 0:
        return 1.0
    if successes > trials:
        return 0.0
    return _regularized_beta(successes, trials - successes + 1, probability)


def welch_ratio_test(new: Sequence[float], stable: Sequence[float], ratio: float) -> float:
    """One-sided p-value of H0: mean(new) <= ratio * mean(stable), Welch's t-test
    (stable's observations scaled by the ratio). Needs two observations a side."""
    scaled = [ratio * v for v in stable]
    m_new, m_old = _mean(new), _mean(scaled)
    v_new, v_old = _variance(new) / len(new), _variance(scaled) / len(scaled)
    difference = m_new - m_old
    if v_new + v_old == 0:
        return 0.0 if difference > 0 else 1.0
    t = difference / math.sqrt(v_new + v_old)
    df = (v_new + v_old) ** 2 / (v_new ** 2 / (len(new) - 1) + v_old ** 2 / (len(scaled) - 1))
    return t_sf(t, df)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _variance(values: Sequence[float]) -> float:
    mean = _mean(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def t_sf(t: float, df: float) -> float:
    """Survival function of Student's t with (fractional) `df` degrees of freedom, via
    the regularized incomplete beta function: P(T > t)."""
    x = df / (df + t * t)
    tail = 0.5 * _regularized_beta(df / 2, 0.5, x)
    return tail if t > 0 else 1 - tail


def _regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b) by its continued fraction (Numerical Recipes' betacf, Lentz's method)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    if x > (a + 1) / (a + b + 2):
        return 1.0 - _regularized_beta(b, a, 1.0 - x)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 20_000):  # O(sqrt(max(a, b))) steps: ample for any error count
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= d * c
        if abs(d * c - 1.0) < 1e-12:
            break
    return front * result / a
