"""The one place that knows the concrete classes: plan + settings -> collaborators."""

from __future__ import annotations

from typing import Any

from deployer.aws import AwsContext
from deployer.checks.alarms import CloudWatchAlarms
from deployer.core.ports import Check, Clock, Hook, Notifier, Observer, Store, TrafficTarget
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
                 notifier=build_notifier(plan, aws), observer=observer)


def target_key(plan: ReleasePlan, region: str | None) -> str:
    """What the run is listed under: the traffic resource itself, or for a whole
    application the plan (its targets' own keys are in target_keys)."""
    if plan.target is None:
        return f"app:{region or '-'}:{plan.name}"
    return key_of(plan.target, region)


def target_keys(plan: ReleasePlan, region: str | None) -> list[str]:
    """Every lock a run takes: one per traffic resource, sorted, so that two runs over
    overlapping targets take them in the same order and never deadlock."""
    return sorted({key_of(leg.spec, region) for leg in plan.legs})


def key_of(spec: TargetSpec, region: str | None) -> str:
    if spec.lambda_ is not None:
        function = spec.lambda_
        return f"lambda:{region or '-'}:{function.function.split(':')[-1]}:{function.alias}"
    ecs = spec.ecs
    assert ecs is not None
    return f"elb:{ecs.listener or ecs.rule}"


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
    if spec.lambda_ is not None:
        from deployer.targets.lambda_alias import LambdaAliasTarget

        return LambdaAliasTarget(spec.lambda_, aws, clock, state)
    assert spec.ecs is not None
    if spec.ecs.service is not None:
        from deployer.targets.ecs_task_sets import EcsTaskSetTarget

        return EcsTaskSetTarget(spec.ecs, aws, clock, state)
    from deployer.targets.ecs_alb import EcsAlbTarget

    return EcsAlbTarget(spec.ecs, aws, clock, state)


def build_check(plan: ReleasePlan, aws: AwsContext, target: TrafficTarget, clock: Clock,
                record: RunRecord | None = None) -> Check:
    alarms = CloudWatchAlarms(plan.checks, aws, muted=record.muted_alarms if record else (),
                              names=plan.all_alarms)
    if plan.checks.metrics is None:
        return alarms
    from deployer.checks.all_checks import AllChecks
    from deployer.checks.analysis import MetricAnalysis, Subject
    from deployer.engine.fleet import Fleet

    def subjects(at_full: bool) -> list[Subject]:
        if isinstance(target, Fleet):
            return [Subject(name, series, full)
                    for name, series, full in target.metric_subjects(at_full)]
        return [Subject(None, target.metric_series(), at_full)]

    return AllChecks([alarms, MetricAnalysis(plan.checks, aws, subjects, clock.wall)])


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
