"""CodeDeploy's predefined Lambda and ECS deployment configurations, with their timelines.

Canary: the weight at t=0, 100% after the interval. Linear: step% at t=0, then
+step every interval until 100%. Names are accepted with or without the
`CodeDeployDefault.` prefix, in any letter case, and as SAM's
`DeploymentPreference.Type` names (the Lambda configuration of that name).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from strategies.all_at_once import plan_all_at_once
from strategies.canary import plan_canary
from strategies.linear import plan_linear
from strategies.steps import Step

PREFIX = "CodeDeployDefault."


@dataclass(frozen=True, slots=True)
class Preset:
    shape: Literal["canary", "linear", "all_at_once"]
    percent: float = 100.0
    minutes: int = 0


PRESETS: dict[str, Preset] = {
    "LambdaCanary10Percent5Minutes": Preset("canary", 10, 5),
    "LambdaCanary10Percent10Minutes": Preset("canary", 10, 10),
    "LambdaCanary10Percent15Minutes": Preset("canary", 10, 15),
    "LambdaCanary10Percent30Minutes": Preset("canary", 10, 30),
    "LambdaLinear10PercentEvery1Minute": Preset("linear", 10, 1),
    "LambdaLinear10PercentEvery2Minutes": Preset("linear", 10, 2),
    "LambdaLinear10PercentEvery3Minutes": Preset("linear", 10, 3),
    "LambdaLinear10PercentEvery10Minutes": Preset("linear", 10, 10),
    "LambdaAllAtOnce": Preset("all_at_once"),
    "ECSCanary10Percent5Minutes": Preset("canary", 10, 5),
    "ECSCanary10Percent15Minutes": Preset("canary", 10, 15),
    # "Minutes" (plural) is CodeDeploy's own spelling of this one.
    "ECSLinear10PercentEvery1Minutes": Preset("linear", 10, 1),
    "ECSLinear10PercentEvery3Minutes": Preset("linear", 10, 3),
    "ECSAllAtOnce": Preset("all_at_once"),
}

# SAM's DeploymentPreference.Type names are CodeDeploy's Lambda configurations
# without "Lambda": `Type: Canary10Percent5Minutes` is LambdaCanary10Percent5Minutes.
SAM_TYPES: dict[str, str] = {name.removeprefix("Lambda"): name for name in PRESETS
                             if name.startswith("Lambda")}

_BY_LOWER = {name.lower(): name for name in PRESETS} | {
    sam.lower(): name for sam, name in SAM_TYPES.items()}


def canonical_preset_name(name: str, target_kind: str | None = None) -> str:
    """The table's spelling of `name` (a CodeDeploy configuration, with or without its
    prefix, or a SAM type); ValueError naming close matches when unknown, those for
    `target_kind` ("lambda" or "ecs") first."""
    bare = name.strip()
    if bare.lower().startswith(PREFIX.lower()):
        bare = bare[len(PREFIX):]
    found = _BY_LOWER.get(bare.lower())
    if found is not None:
        return found
    import difflib  # only on this error path: it costs start-up time

    prefix = {"lambda": "lambda", "ecs": "ecs"}.get(target_kind or "")
    spellings = [n.lower() for n in PRESETS]
    if prefix is not None:
        own = [s for s in spellings if s.startswith(prefix)]
        # A name without its kind's prefix ("Linear10PercentEvery3Minutes") is matched
        # as if it had it, so the kind's own preset is the first suggestion.
        wanted = bare.lower() if bare.lower().startswith(prefix) else prefix + bare.lower()
        close = difflib.get_close_matches(wanted, own, n=3, cutoff=0.6)
        close += [c for c in difflib.get_close_matches(bare.lower(), spellings, n=3,
                                                       cutoff=0.6) if c not in close]
    else:
        close = difflib.get_close_matches(bare.lower(), spellings, n=3, cutoff=0.6)
    hint = (
        "did you mean " + ", ".join(_BY_LOWER[c] for c in close[:3]) + "?"
        if close
        else "known presets: " + ", ".join(PRESETS)
    )
    raise ValueError(f"unknown preset {name!r}; {hint}")


def plan_preset(name: str) -> tuple[Step, ...]:
    preset = PRESETS[canonical_preset_name(name)]
    if preset.shape == "canary":
        return plan_canary(preset.percent, preset.minutes * 60.0)
    if preset.shape == "linear":
        return plan_linear(preset.percent, preset.minutes * 60.0)
    return plan_all_at_once()
