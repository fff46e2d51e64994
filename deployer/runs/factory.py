"""The one place that knows the concrete classes: plan + settings -> collaborators."""

from __future__ import annotations

from typing import Any

from deployer.aws import AwsContext
from deployer.checks.alarms import CloudWatchAlarms
from deployer.core.ports import Check, Clock, Hook, Notifier, Observer, Store, TrafficTarget
from deployer.core.record import RunRecord
from deployer.engine.controller import Parts
from deployer.hooks.kinds import build_hook
from deployer.plan.model import ReleasePlan


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
    """What the per-target lock is named after: the traffic resource itself."""
    if plan.target.lambda_ is not None:
        spec = plan.target.lambda_
        return f"lambda:{region or '-'}:{spec.function.split(':')[-1]}:{spec.alias}"
    ecs = plan.target.ecs
    assert ecs is not None
    return f"elb:{ecs.listener or ecs.rule}"


def build_target(plan: ReleasePlan, aws: AwsContext, clock: Clock,
                 state: dict[str, Any] | None = None) -> TrafficTarget:
    if plan.target.lambda_ is not None:
        from deployer.targets.lambda_alias import LambdaAliasTarget

        return LambdaAliasTarget(plan.target.lambda_, aws, clock, state)
    from deployer.targets.ecs_alb import EcsAlbTarget

    assert plan.target.ecs is not None
    return EcsAlbTarget(plan.target.ecs, aws, clock, state)


def build_check(plan: ReleasePlan, aws: AwsContext, target: TrafficTarget, clock: Clock,
                record: RunRecord | None = None) -> Check:
    alarms = CloudWatchAlarms(plan.checks, aws, muted=record.muted_alarms if record else ())
    if plan.checks.metrics is None:
        return alarms
    from deployer.checks.all_checks import AllChecks
    from deployer.checks.analysis import MetricAnalysis

    return AllChecks([alarms, MetricAnalysis(plan.checks, aws, target.metric_series,
                                             clock.wall)])


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
