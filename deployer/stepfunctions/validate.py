"""What a plan may not ask of the Step Functions engine (SPEC §11): each is a
validation error (exit 2) naming the field, found before anything is touched."""

from __future__ import annotations

from deployer.errors import PlanError
from deployer.plan.model import ReleasePlan
from deployer.stepfunctions.history import (
    HISTORY_LIMIT,
    smallest_poll_that_fits,
    worst_case,
)

MAX_ALARMS = 100  # one DescribeAlarms call per poll


def engine_problems(plan: ReleasePlan) -> list[str]:
    problems: list[str] = []
    engine = "the stepfunctions engine"
    for stage in ("before_traffic", "after_traffic"):
        for index, hook in enumerate(getattr(plan.hooks, stage)):
            if hook.kind != "lambda":
                problems.append(f"hooks.{stage}[{index}].{hook.kind}: {engine} runs lambda "
                                f"hooks only (a state machine has no shell, and no http "
                                f"task here); make it a Lambda function, or use --engine local")
    if plan.checks.metrics is not None:
        problems.append(f"checks.metrics: {engine} cannot judge per-version metrics (it has "
                        f"no statistics); put them behind CloudWatch alarms, or use "
                        f"--engine local")
    if len(plan.all_alarms) > MAX_ALARMS:
        problems.append(f"checks.alarms: {engine} watches at most {MAX_ALARMS} alarms (one "
                        f"DescribeAlarms call per poll); this plan has {len(plan.all_alarms)}")
    if not problems:
        problems += _history_problems(plan)
    return problems


def _history_problems(plan: ReleasePlan) -> list[str]:
    events = worst_case(plan).events
    if events <= HISTORY_LIMIT:
        return []
    fits = smallest_poll_that_fits(plan)
    advice = (f"the smallest checks.poll_every that fits is {fits:g}s" if fits is not None
              else "shorten the bakes, approval timeouts or hook timeouts")
    return [f"checks.poll_every: the worst case of this plan is {events:,} history events, "
            f"above Step Functions' {HISTORY_LIMIT:,}; {advice}"]


def check_plan_for_engine(plan: ReleasePlan, path: str) -> None:
    problems = engine_problems(plan)
    if problems:
        raise PlanError([f"{path}: {problem}" for problem in problems])
