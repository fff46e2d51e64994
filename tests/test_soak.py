"""The seeded soak (SPEC §6.6): every strategy, on Lambda, ECS and a 3-target 2-wave
application, half of the runs with an alarm flipped mid-run, at a 20% fault rate.
Each run's outcome, exit code and final traffic equal those of the same run without
faults, and the traffic at the end is whole: 100/0 or 0/100.
`make test` runs a slice; `make soak` runs all 200."""

from __future__ import annotations

import pytest

from deployer.core.record import Outcome
from tests.soak import Scenario, run_scenario

SLICE = 20
TOTAL = 200


def _seeds() -> list[object]:
    return [pytest.param(seed, marks=[pytest.mark.slow] if seed >= SLICE else [],
                         id=f"seed{seed}") for seed in range(TOTAL)]


@pytest.mark.usefixtures("moto_aws")
@pytest.mark.parametrize("seed", _seeds())
def test_faults_change_nothing(seed: int) -> None:
    scenario = Scenario.draw(seed)
    clean, clean_world, _ = run_scenario(scenario, 0.0, "c")
    faulty, faulty_world, faults = run_scenario(scenario, 0.2, "f")
    if faults.seen >= 40:  # a short run may draw no fault at all (0.8^40: 0.01%)
        assert sum(faults.injected.values()) > 0
    assert (faulty.outcome, faulty.exit_code) == (clean.outcome, clean.exit_code)
    expected = "new" if clean.outcome == Outcome.SUCCEEDED else "stable"
    assert clean_world.traffic() == expected
    assert faulty_world.traffic() == expected
    assert clean.outcome == (Outcome.ROLLED_BACK if scenario.alarm_at is not None
                             else Outcome.SUCCEEDED)

