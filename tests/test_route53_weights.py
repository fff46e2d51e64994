"""Route 53 weights (0-255): the nearest expressible split of a share."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from deployer.targets.route53 import MAX_WEIGHT, route53_weights, share_of


def test_whole_percentages_are_exact_and_readable() -> None:
    assert route53_weights(10) == (10, 90)
    assert route53_weights(0) == (0, 100)
    assert route53_weights(100) == (100, 0)
    assert share_of(*route53_weights(33)) == 33


def test_a_fraction_is_the_nearest_split() -> None:
    # against every expressible pair, for a few shares
    for percent in (12.5, 33.3, 0.4, 99.7):
        best = min(abs(n / (n + o) * 100 - percent) for n in range(256) for o in range(256)
                   if n + o)
        new, old = route53_weights(percent)
        assert abs(new / (new + old) * 100 - percent) == best
    new, old = route53_weights(12.5)
    assert share_of(new, old) == 12.5 and new + old > 100  # 1/8 exactly, the finer pair
    # 33.3% has no pair within 255: the nearest is a third (0.033 points off)
    assert round(share_of(*route53_weights(33.3)), 2) == 33.33
    assert share_of(0, 0) == 50  # 0 on both: Route 53 answers equally


@given(st.floats(min_value=0, max_value=100, allow_nan=False))
def test_every_share_is_within_half_a_step(percent: float) -> None:
    new, old = route53_weights(percent)
    assert 0 <= new <= MAX_WEIGHT and 0 <= old <= MAX_WEIGHT and new + old > 0
    error = abs(new / (new + old) * 100 - percent)
    assert error <= 1 / (2 * MAX_WEIGHT) * 100 + 1e-9  # never worse than half a 1/255 step


def test_the_smallest_and_largest_fractions() -> None:
    assert route53_weights(5e-324) == (0, 255)  # as near 0% as 0-255 gets
    assert route53_weights(99.99999999999999) == (255, 0)
