"""Fuzzing the plan boundary: whatever the bytes, validate answers with PlanError or a plan."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deployer.errors import PlanError
from deployer.plan.loader import load_plan
from deployer.plan.timeline import timeline_json, timeline_text
from tests.conftest import ROOT, run_cli

FIXTURE_OK = [HealthCheck.function_scoped_fixture]
EXAMPLE_TEXTS = [p.read_text() for p in sorted((ROOT / "configs").glob("*.yaml"))]


def _load_or_plan_error(path: str, overrides: tuple[str, ...] = ()) -> None:
    try:
        loaded = load_plan(path, overrides, environ={})
    except PlanError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
        return
    timeline_json(loaded.plan)
    timeline_text(loaded.plan)


def _mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 4)):
        if not lines:
            break
        index = rng.randrange(len(lines))
        action = rng.choice(["drop", "dup", "swap", "chars", "value", "indent"])
        if action == "drop":
            del lines[index]
        elif action == "dup":
            lines.insert(index, lines[index])
        elif action == "swap":
            other = rng.randrange(len(lines))
            lines[index], lines[other] = lines[other], lines[index]
        elif action == "chars":
            pos = rng.randrange(len(lines[index]) + 1)
            junk = rng.choice(["{", "]", ":", "&a", "*a", "\t", "!!python/object", "'", "-", "%"])
            lines[index] = lines[index][:pos] + junk + lines[index][pos:]
        elif action == "value" and ":" in lines[index]:
            key = lines[index].split(":", 1)[0]
            lines[index] = key + ": " + rng.choice(
                ["-1", "0", "101", "1e999", "nan", "null", "[]", "{}", "~", "yes", "5x",
                 "'${X}'", "$LATEST", "99999999999999999999", "2026-11-26"])
        else:
            lines[index] = " " * rng.randint(0, 6) + lines[index].lstrip()
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None, suppress_health_check=FIXTURE_OK)
@given(st.integers(min_value=0, max_value=2**32), st.sampled_from(EXAMPLE_TEXTS))
def test_mutated_examples_never_raise(tmp_path: Path, seed: int, text: str) -> None:
    path = tmp_path / "mutant.yaml"
    path.write_text(_mutate(text, random.Random(seed)))
    _load_or_plan_error(str(path))


@settings(max_examples=200, deadline=None, suppress_health_check=FIXTURE_OK)
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bytes.yaml"
    path.write_bytes(data)
    _load_or_plan_error(str(path))


@settings(max_examples=200, deadline=None, suppress_health_check=FIXTURE_OK)
@given(st.lists(st.text(max_size=40), max_size=3))
def test_junk_set_never_raises(tmp_path: Path, overrides: list[str]) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(EXAMPLE_TEXTS[0])
    _load_or_plan_error(str(path), tuple(overrides))


def test_cli_on_mutants_exits_0_or_2(write_plan: Callable[..., str]) -> None:
    rng = random.Random(7)
    paths = [write_plan(_mutate(rng.choice(EXAMPLE_TEXTS), rng)) for _ in range(12)]
    for command in (["validate"], ["plan", "--json"]):
        for path in paths:
            result = run_cli(*command, path)
            assert result.returncode in (0, 2), result.stderr
            assert "Traceback" not in result.stderr
