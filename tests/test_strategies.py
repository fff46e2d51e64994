"""Strategy compilers: exact step tuples, CodeDeploy preset timelines, and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployer.plan.compile import baked_seconds, compile_strategy
from deployer.plan.model import StrategySpec
from deployer.plan.timeline import timeline_json
from strategies.all_at_once import plan_all_at_once
from strategies.blue_green import plan_blue_green
from strategies.canary import plan_canary
from strategies.linear import plan_linear
from strategies.presets import PRESETS, canonical_preset_name, plan_preset
from strategies.steps import Approve, Bake, OnTimeout, Shift, Step


def test_canary() -> None:
    assert plan_canary(10, 300) == (Shift(10), Bake(300), Shift(100))


def test_linear_divides_evenly() -> None:
    assert plan_linear(25, 60) == (
        Shift(25), Bake(60), Shift(50), Bake(60), Shift(75), Bake(60), Shift(100),
    )


def test_linear_caps_the_last_step_at_100() -> None:
    assert plan_linear(30, 10) == (
        Shift(30), Bake(10), Shift(60), Bake(10), Shift(90), Bake(10), Shift(100),
    )


def test_linear_with_a_decimal_step_does_not_drift() -> None:
    steps = plan_linear(33.3, 1)
    assert [s.weight for s in steps if isinstance(s, Shift)] == [33.3, 66.6, 99.9, 100]


def test_all_at_once() -> None:
    assert plan_all_at_once() == (Shift(100),)


@pytest.mark.parametrize(
    ("preview", "seconds", "approve", "expected"),
    [
        (None, 0, None, (Shift(100),)),
        (20, 600, None, (Shift(20), Bake(600), Shift(100))),
        (20, 0, None, (Shift(20), Shift(100))),
        (None, 0, Approve(60), (Approve(60), Shift(100))),
        (10, 60, Approve(60, OnTimeout.PROMOTE),
         (Shift(10), Bake(60), Approve(60, OnTimeout.PROMOTE), Shift(100))),
    ],
)
def test_blue_green(preview: float | None, seconds: float, approve: Approve | None,
                    expected: tuple[Step, ...]) -> None:
    assert plan_blue_green(preview, seconds, approve) == expected


# CodeDeploy's documented timelines: (name, [(minute, weight), ...]).
CODEDEPLOY_TIMELINES = {
    "LambdaCanary10Percent5Minutes": [(0, 10), (5, 100)],
    "LambdaCanary10Percent10Minutes": [(0, 10), (10, 100)],
    "LambdaCanary10Percent15Minutes": [(0, 10), (15, 100)],
    "LambdaCanary10Percent30Minutes": [(0, 10), (30, 100)],
    "LambdaLinear10PercentEvery1Minute": [(m, 10 * (m + 1)) for m in range(10)],
    "LambdaLinear10PercentEvery2Minutes": [(2 * i, 10 * (i + 1)) for i in range(10)],
    "LambdaLinear10PercentEvery3Minutes": [(3 * i, 10 * (i + 1)) for i in range(10)],
    "LambdaLinear10PercentEvery10Minutes": [(10 * i, 10 * (i + 1)) for i in range(10)],
    "LambdaAllAtOnce": [(0, 100)],
    "ECSCanary10Percent5Minutes": [(0, 10), (5, 100)],
    "ECSCanary10Percent15Minutes": [(0, 10), (15, 100)],
    "ECSLinear10PercentEvery1Minutes": [(m, 10 * (m + 1)) for m in range(10)],
    "ECSLinear10PercentEvery3Minutes": [(3 * i, 10 * (i + 1)) for i in range(10)],
    "ECSAllAtOnce": [(0, 100)],
}


def test_every_codedeploy_preset_is_known() -> None:
    assert set(PRESETS) == set(CODEDEPLOY_TIMELINES)


def _shift_times(steps: tuple[Step, ...]) -> list[tuple[float, float]]:
    at, out = 0.0, []
    for step in steps:
        if isinstance(step, Bake):
            at += step.seconds
        elif isinstance(step, Shift):
            out.append((at / 60, step.weight))
    return out


@pytest.mark.parametrize("name", sorted(CODEDEPLOY_TIMELINES))
@pytest.mark.parametrize("spelling", ["{}", "CodeDeployDefault.{}", "codedeploydefault.{}"])
def test_preset_matches_codedeploy_timeline(name: str, spelling: str) -> None:
    assert _shift_times(plan_preset(spelling.format(name))) == CODEDEPLOY_TIMELINES[name]


def test_unknown_preset_lists_close_matches() -> None:
    with pytest.raises(ValueError, match="did you mean LambdaCanary10Percent5Minutes"):
        canonical_preset_name("LambdaCanary10Percent5Minute")


def test_unknown_preset_without_close_match_lists_all() -> None:
    with pytest.raises(ValueError, match="known presets: LambdaCanary10Percent5Minutes"):
        canonical_preset_name("zzz")


# ---------------------------------------------------------------- properties

weights = st.integers(min_value=1, max_value=999).map(lambda n: n / 10)
durations = st.integers(min_value=0, max_value=7200)


@st.composite
def custom_steps(draw: st.DrawFn) -> list[dict[str, object]]:
    shifts = [*sorted(draw(st.lists(weights, min_size=0, max_size=6))), 100.0]
    items: list[dict[str, object]] = []
    for weight in shifts:
        for _ in range(draw(st.integers(0, 2))):
            if draw(st.booleans()):
                items.append({"bake": draw(durations)})
            else:
                items.append({"approve": {"timeout": draw(durations)}})
        items.append({"shift": weight})
    return items


strategy_specs = st.one_of(
    st.builds(lambda w, b: {"canary": {"weight": w, "bake": b}},
              weights.filter(lambda w: w < 100), durations),
    st.builds(lambda s, e: {"linear": {"step": s, "every": e}},
              st.integers(1, 99).map(float), durations),
    st.just({"all_at_once": {}}),
    st.builds(lambda p, f: {"blue_green": {"preview": p, "preview_for": f}},
              weights.filter(lambda w: w < 100), durations),
    st.sampled_from(sorted(PRESETS)).map(lambda name: {"preset": name}),
    custom_steps().map(lambda steps: {"steps": steps}),
)


@given(strategy_specs)
def test_weights_never_decrease_and_end_at_100(raw: dict[str, object]) -> None:
    steps = compile_strategy(StrategySpec.model_validate(raw))
    shifts = [s.weight for s in steps if isinstance(s, Shift)]
    assert shifts == sorted(shifts)
    assert shifts[-1] == 100
    assert all(0 < w <= 100 for w in shifts)


@given(strategy_specs, durations)
def test_timeline_offsets_follow_the_bakes(raw: dict[str, object], final: int) -> None:
    from deployer.plan.model import ReleasePlan

    plan = ReleasePlan.model_validate({
        "version": 1, "name": "p", "strategy": raw, "final_bake": final,
        "checks": {"alarms": ["p-errors"]},
        "target": {"lambda": {"function": "f", "alias": "live", "version": "2"}},
    })
    document = timeline_json(plan)
    at = 0.0
    for entry in document["steps"]:
        assert entry["at"] == pytest.approx(at)
        if entry["kind"] == "bake":
            at += entry["seconds"]
    steps = compile_strategy(plan.strategy)
    assert document["total_seconds"] == pytest.approx(baked_seconds(steps) + final)
    assert document["total_seconds"] == pytest.approx(at + final)
