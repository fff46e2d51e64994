from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployer.plan.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400),
     ("1h30m", 5400), ("1m30s", 90), ("0s", 0), (" 10s ", 10), ("1.5h", 5400)],
)
def test_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "5x", "m5", "-5s", "5 m", "1h 30m", "ten seconds"])
def test_parse_rejects_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match=r"write e\.g\. 500ms"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.5, "500ms"), (90, "1m30s"), (5400, "1h30m"), (86400 + 1, "1d1s")],
)
def test_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=0, max_value=10**9))
def test_format_then_parse_is_exact(millis: int) -> None:
    assert parse_duration(format_duration(millis / 1000)) == pytest.approx(millis / 1000)
