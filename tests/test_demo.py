"""`deployer demo`: every scenario ends with its expected outcome (at a high time scale)."""

from __future__ import annotations

import pytest

from deployer.demo.scenarios import SCENARIOS
from tests.conftest import run_cli


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenario_ends_as_expected(scenario: str) -> None:
    result = run_cli("demo", "--scenario", scenario, "--time-scale", "150", timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    expected = SCENARIOS[scenario].expected.value
    assert f"outcome: {expected} (exit code" in result.stdout
    assert "what to try next:" in result.stdout
    assert "version: 1" in result.stdout  # the plan it used is printed
    if scenario == "approval":
        assert "deployer approve " in result.stdout
    if scenario == "rollback":
        assert "rolled_back: alarm checkout-errors is in ALARM" in result.stderr
