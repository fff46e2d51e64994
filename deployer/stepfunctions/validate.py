"""What a plan may not ask of the Step Functions engine (SPEC §11, §11b): each is a
validation error (exit 2) naming the field, found before anything is touched. Left:
command and http hooks, and what one call per poll cannot read (more than 100 alarms;
more series or datapoints than one GetMetricData answer holds)."""

from __future__ import annotations

import math
import os

from deployer.checks.analysis import PERIOD
from deployer.errors import PlanError
from deployer.plan.durations import format_duration
from deployer.plan.model import ReleasePlan
from deployer.stepfunctions.analysis import MAX_DATAPOINTS, MAX_QUERIES, queries_per_poll
from deployer.stepfunctions.history import (
    HISTORY_LIMIT,
    hold_allowance,
    smallest_poll_that_fits,
    worst_case,
)

MAX_ALARMS = 100  # one DescribeAlarms call per poll


def engine_problems(plan: ReleasePlan, region: str | None = None) -> list[str]:
    """`region`: the state machine's (the plan's, else --region or the environment's);
    a target elsewhere is refused, Step Functions' aws-sdk tasks calling only their own
    region (SPEC §13)."""
    problems: list[str] = []
    engine = "the stepfunctions engine"
    machine = plan.region or region or os.environ.get("AWS_REGION") \
        or os.environ.get("AWS_DEFAULT_REGION")
    for leg in plan.legs:
        where = "target" if plan.target is not None else f"targets.{leg.name}"
        if leg.spec.region and machine and leg.spec.region != machine:
            problems.append(f"{where}.region: {engine} runs in {machine} and its AWS calls "
                            f"reach only that region, not {leg.spec.region}: release "
                            f"{leg.name} with a plan (or machine) of its own region, or use "
                            f"--engine local")
    for leg in plan.legs:
        if leg.spec.route53 is not None:
            where = "target" if plan.target is not None else f"targets.{leg.name}"
            problems.append(f"{where}.route53: {engine} does not release Route 53 weighted "
                            "records yet; use --engine local")
    for stage in ("before_traffic", "after_traffic"):
        for index, hook in enumerate(getattr(plan.hooks, stage)):
            if hook.kind != "lambda":
                problems.append(f"hooks.{stage}[{index}].{hook.kind}: {engine} runs lambda "
                                f"hooks only (a state machine has no shell, and no http "
                                f"task here); make it a Lambda function, or use --engine local")
    if plan.checks.metrics is not None:
        problems += _analysis_problems(plan, engine)
    if len(plan.all_alarms) > MAX_ALARMS:
        problems.append(f"checks.alarms: {engine} watches at most {MAX_ALARMS} alarms (one "
                        f"DescribeAlarms call per poll); this plan has {len(plan.all_alarms)}")
    if not problems:
        problems += _history_problems(plan)
    return problems


def _analysis_problems(plan: ReleasePlan, engine: str) -> list[str]:
    """One GetMetricData call per poll: at most 500 queries, and an answer in one page."""
    queries = queries_per_poll(plan.checks, len(plan.legs))
    if queries > MAX_QUERIES:
        return [f"checks.metrics: {engine} reads every version in one GetMetricData call "
                f"per poll, at most {MAX_QUERIES} series; this plan needs {queries} "
                f"({len(plan.legs)} targets x 2 versions x {queries // 2 // len(plan.legs)} "
                f"metrics): judge fewer metrics, split the application, or use --engine local"]
    minutes = math.ceil(plan.checks.window / PERIOD)
    if queries * minutes > MAX_DATAPOINTS:
        longest = MAX_DATAPOINTS // queries
        return [f"checks.window: {engine} reads the window in one GetMetricData page, at "
                f"most {MAX_DATAPOINTS:,} datapoints; {queries} series x {minutes} minutes is "
                f"{queries * minutes:,}: make the window {format_duration(longest * PERIOD)} or "
                f"shorter"]
    return []


def _history_problems(plan: ReleasePlan) -> list[str]:
    events = worst_case(plan).events
    if events <= HISTORY_LIMIT:
        if plan.windows is not None and hold_allowance(plan) < 1:
            return ["windows: this plan's worst case leaves no room in Step Functions' "
                    f"{HISTORY_LIMIT:,} history events for a hold by its deployment windows; "
                    "make checks.poll_every longer or the bakes shorter"]
        return []
    fits = smallest_poll_that_fits(plan)
    advice = (f"the smallest checks.poll_every that fits is {fits:g}s" if fits is not None
              else "shorten the bakes, approval timeouts or hook timeouts")
    return [f"checks.poll_every: the worst case of this plan is {events:,} history events, "
            f"above Step Functions' {HISTORY_LIMIT:,}; {advice}"]


def check_plan_for_engine(plan: ReleasePlan, path: str, region: str | None = None) -> None:
    problems = engine_problems(plan, region)
    if problems:
        raise PlanError([f"{path}: {problem}" for problem in problems])
