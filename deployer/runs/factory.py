"""The one place that knows the concrete classes: plan + settings -> collaborators."""

from __future__ import annotations

from typing import Any

from deployer.aws import AwsContext
from deployer.checks.alarms import CloudWatchAlarms
from deployer.core.ports import (
    Check,
    Clock,
    Hook,
    Notifier,
    Observer,
    Store,
    TrafficTarget,
    Window,
)
from deployer.core.record import RunRecord
from deployer.engine.controller import Parts
from deployer.hooks.kinds import build_hook
from deployer.plan.model import ReleasePlan, TargetSpec


def build_parts(plan: ReleasePlan, aws: AwsContext, clock: Clock, store: Store,
                observer: Observer, record: RunRecord | None = None) -> Parts:
    """Everything a controller drives, for a new run or (with `record`) a resumed one."""
    before, after = build_hooks(plan, aws, clock)
    target = build_target(plan, aws, clock, state=record.target if record else None)
    return Parts(target=target, check=build_check(plan, aws, target, clock, record),
                 before_traffic=before,
                 after_traffic=after, store=store, clock=clock,
                 notifier=build_notifier(plan, aws), observer=observer,
                 window=build_window(plan, aws))


def build_window(plan: ReleasePlan, aws: AwsContext) -> Window | None:
    """The plan's deployment window (SPEC §14); calendars are read in the plan's place."""
    spec = plan.windows
    if spec is None:
        return None
    schedule = spec.schedule() if spec.allow or spec.deny else None
    if not spec.change_calendars:
        return schedule
    from deployer.checks.calendars import CalendarWindow

    return CalendarWindow(schedule, aws, spec.change_calendars)


def target_key(plan: ReleasePlan, aws: AwsContext) -> str:
    """What the run is listed under: the traffic resource itself, or for a whole
    application the plan (its targets' own keys are in target_keys)."""
    if plan.target is None:
        return f"app:{aws.region or '-'}:{plan.name}"
    return key_of(plan.target, aws.region, runner_account(plan, aws))


def target_keys(plan: ReleasePlan, aws: AwsContext) -> list[str]:
    """Every lock a run takes: one per traffic resource, sorted, so that two runs over
    overlapping targets take them in the same order and never deadlock."""
    account = runner_account(plan, aws)
    return sorted({key_of(leg.spec, aws.region, account) for leg in plan.legs})


def runner_account(plan: ReleasePlan, aws: AwsContext) -> str | None:
    """The caller's account, asked only when a target names a role (SPEC §13)."""
    return aws.account if any(leg.spec.role_arn for leg in plan.legs) else None


def key_of(spec: TargetSpec, region: str | None, runner: str | None = None) -> str:
    """A target's identity for locks and records: where it lives, then what it is. A
    Lambda alias is named by region, and by account when that is not the runner's
    (`lambda:222233334444:eu-west-1:api:live`); an ECS listener's or rule's ARN names
    both already."""
    where = spec.region or region or "-"
    if spec.account is not None and spec.account != runner:
        where = f"{spec.account}:{where}"
    if spec.lambda_ is not None:
        function = spec.lambda_
        return f"lambda:{where}:{function.function.split(':')[-1]}:{function.alias}"
    if spec.route53 is not None:  # a hosted zone is global, and its id names it
        records = spec.route53
        return f"route53:{records.zone.rsplit('/', 1)[-1]}:{records.name.rstrip('.').lower()}" \
            f":{records.type}"
    routes = spec.ecs or spec.asg
    assert routes is not None
    return f"elb:{routes.route}"


def place_of(spec: TargetSpec, aws: AwsContext) -> AwsContext:
    """The context a target is read and written in: its region, its account."""
    return aws.place(spec.region, spec.role_arn, spec.external_id)


def build_target(plan: ReleasePlan, aws: AwsContext, clock: Clock,
                 state: dict[str, Any] | None = None) -> TrafficTarget:
    if plan.target is not None:
        return build_leg(plan.target, aws, clock, state)
    from deployer.engine.fleet import Fleet, FleetLeg

    states = (state or {}).get("targets") or {}
    legs = [FleetLeg(leg.name, leg.wave, build_leg(leg.spec, aws, clock, states.get(leg.name)))
            for leg in plan.legs]
    return Fleet(legs, plan.wave_names, state)


def build_leg(spec: TargetSpec, aws: AwsContext, clock: Clock,
              state: dict[str, Any] | None = None) -> TrafficTarget:
    """One traffic target: the one line a new kind of target adds here."""
    aws = place_of(spec, aws)
    if spec.lambda_ is not None:
        from deployer.targets.lambda_alias import LambdaAliasTarget

        return LambdaAliasTarget(spec.lambda_, aws, clock, state)
    if spec.asg is not None:
        from deployer.targets.asg import AsgTarget

        return AsgTarget(spec.asg, aws, clock, state)
    if spec.route53 is not None:
        from deployer.targets.route53 import WeightedRecords

        return WeightedRecords(spec.route53, aws, state)
    assert spec.ecs is not None
    if spec.ecs.service is not None:
        from deployer.targets.ecs_task_sets import EcsTaskSetTarget

        return EcsTaskSetTarget(spec.ecs, aws, clock, state)
    from deployer.targets.ecs_alb import EcsAlbTarget

    return EcsAlbTarget(spec.ecs, aws, clock, state)


def target_warnings(plan: ReleasePlan, aws: AwsContext, path: str) -> list[str]:
    """What only AWS can tell about a valid plan, said before the run starts: a Route 53
    target's records cached longer than the shortest bake (SPEC §15)."""
    records = [leg for leg in plan.legs if leg.spec.route53 is not None]
    if not records:
        return []
    from deployer.errors import DeployerError
    from deployer.plan.compile import compile_strategy
    from deployer.targets.route53 import ttl_warnings
    from strategies.steps import Bake

    bakes = [s.seconds for s in compile_strategy(plan.strategy) if isinstance(s, Bake)]
    bakes += [plan.final_bake] if plan.final_bake else []
    if not bakes:
        return []
    found: list[str] = []
    for leg in records:
        assert leg.spec.route53 is not None
        where = "target.route53" if plan.target is not None else f"targets.{leg.name}.route53"
        try:
            found += ttl_warnings(leg.spec.route53, place_of(leg.spec, aws), min(bakes),
                                  f"{path}: warning: {where}")
        except DeployerError:
            continue  # preflight says what is wrong with the records
    return found


def build_check(plan: ReleasePlan, aws: AwsContext, target: TrafficTarget, clock: Clock,
                record: RunRecord | None = None) -> Check:
    from deployer.checks.all_checks import AllChecks

    muted = record.muted_alarms if record else ()
    checks: list[Check] = [
        CloudWatchAlarms(plan.checks, place, muted=muted, names=names, where=where)
        for (place, where), names in alarm_places(plan, aws).items()]
    if plan.checks.metrics is None:
        return checks[0] if len(checks) == 1 else AllChecks(checks)
    from deployer.checks.analysis import MetricAnalysis, Subject
    from deployer.engine.fleet import Fleet

    places = {leg.name: place_of(leg.spec, aws) for leg in plan.legs}

    def subjects(at_full: bool) -> list[Subject]:
        if isinstance(target, Fleet):
            return [Subject(name, series, full, places[name])
                    for name, series, full in target.metric_subjects(at_full)]
        return [Subject(None, target.metric_series(), at_full, places[plan.name])]

    return AllChecks([*checks, MetricAnalysis(plan.checks, aws, subjects, clock.wall)])


def alarm_places(plan: ReleasePlan, aws: AwsContext
                 ) -> dict[tuple[AwsContext, str], list[str]]:
    """The alarms to read, by where they live (SPEC §13): the plan's own in its region
    and account, each target's in the target's. One DescribeAlarms batch per place;
    an alarm outside the plan's place is shown as `NAME @ eu-west-1` (and the account
    when it is another), so two regions' alarms of one name stay apart."""
    places: dict[tuple[AwsContext, str], list[str]] = {(aws, ""): list(plan.checks.alarms)}
    for leg in plan.legs:
        place = place_of(leg.spec, aws)
        where = "" if place is aws else " @ " + ":".join(
            p for p in (leg.spec.account, place.region) if p)
        names = places.setdefault((place, where), [])
        names += [a for a in leg.alarms if a not in names]
    return {key: names for key, names in places.items() if names or key[1] == ""}


def build_hooks(plan: ReleasePlan, aws: AwsContext, clock: Clock
                ) -> tuple[list[Hook], list[Hook]]:
    before: list[Hook] = [build_hook(h, aws, clock) for h in plan.hooks.before_traffic]
    after: list[Hook] = [build_hook(h, aws, clock) for h in plan.hooks.after_traffic]
    return before, after


class NullNotifier:
    def publish(self, event: str, record: RunRecord) -> None:
        pass


def build_notifier(plan: ReleasePlan, aws: AwsContext) -> Notifier:
    if plan.notify.sns_topic is None:
        return NullNotifier()
    from deployer.notify.sns import SnsNotifier

    # A notification may retry briefly, never hold the release for minutes.
    return SnsNotifier(plan.notify.sns_topic, aws.with_budget(attempts=3, seconds=10))
