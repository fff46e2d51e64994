"""ECS/Fargate blue/green behind an ALB: two services, one target group each, and a
listener (or rule) whose forward action weighs the two groups.

Which colour is live comes from AWS, not memory: the group with all the weight.
The idle colour gets the new task definition, is waited on until stable and
healthy, optionally receives the test listener's traffic, then production weight.
The stable service is never touched until the run has succeeded and
keep_old_for has passed; a rollback scales only the new colour to 0.
"""

from __future__ import annotations

import math
from typing import Any

from deployer.aws import AwsContext
from deployer.core.ports import Clock, MetricSeries, TrafficReading, VersionSeries
from deployer.errors import DeployerError, PreflightError, TargetError
from deployer.logs import get_logger
from deployer.plan.model import EcsTarget
from deployer.targets.alb_weights import MAX_GROUPS, ForwardAction, alb_weights
from deployer.targets.ecs_services import EcsServices

COLOURS = ("blue", "green")


class EcsAlbTarget:
    def __init__(self, spec: EcsTarget, aws: AwsContext, clock: Clock,
                 state: dict[str, Any] | None = None) -> None:
        self.spec = spec
        self.aws = aws
        self.services = EcsServices(spec, aws, clock)
        arn = spec.listener or spec.rule
        assert arn is not None
        self.production = ForwardAction(arn, aws)
        self.test = ForwardAction(spec.test_route, aws) if spec.test_route else None
        state = state or {}
        self.live: str | None = state.get("stable_colour")
        self.idle: str | None = state.get("new_colour")
        self.groups: dict[str, str] = dict(state.get("target_groups") or {})
        self.live_definition: str | None = state.get("stable_task_definition")
        self.new_definition: str | None = state.get("new_task_definition")
        self.desired: int | None = state.get("desired_count")
        # What this run last set (or found at preflight) on the production action; None
        # after a takeover, where the controller has already compared it with the record.
        self._last_set: dict[str, int] | None = None
        self._done = False
        self.log = get_logger(cluster=spec.cluster)

    def _service(self, colour: str | None) -> str:
        services = self.spec.services
        assert services is not None
        return services.blue if colour == "blue" else services.green

    # ------------------------------------------------------------ identity

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "ecs", "cluster": self.spec.cluster, **self.aws.where,
            "listener": self.spec.listener, "rule": self.spec.rule,
            "test_listener": self.spec.test_listener, "test_rule": self.spec.test_rule,
            "stable_colour": self.live, "new_colour": self.idle,
            "stable_service": self._service(self.live) if self.live else None,
            "new_service": self._service(self.idle) if self.idle else None,
            "target_groups": self.groups, "desired_count": self.desired,
            "stable_task_definition": self.live_definition,
            "new_task_definition": self.new_definition,
            "stable_version": _short(self.live_definition),
            "new_version": _short(self.new_definition),
        }

    def hook_context(self) -> dict[str, str]:
        return {"DEPLOYER_TARGET": "ecs", "DEPLOYER_CLUSTER": self.spec.cluster,
                "DEPLOYER_NEW_SERVICE": self._service(self.idle),
                "DEPLOYER_STABLE_SERVICE": self._service(self.live),
                "DEPLOYER_NEW_TASK_DEFINITION": self.new_definition or "",
                "DEPLOYER_STABLE_TASK_DEFINITION": self.live_definition or "",
                "DEPLOYER_TEST_LISTENER": self.spec.test_listener or "",
                "DEPLOYER_TEST_RULE": self.spec.test_rule or ""}

    def metric_series(self) -> VersionSeries:
        """Per target group, under the listener's load balancer. ALB-made 5xx
        (HTTPCode_ELB_5XX_Count) exist only per load balancer: they cannot be split."""
        arn = self.spec.listener or self.spec.rule or ""
        balancer = "/".join(arn.split(":", 5)[-1].split("/")[1:4])  # app/NAME/ID

        def series(colour: str | None, version: str | None) -> MetricSeries:
            group = self._group(colour).rsplit(":", 1)[-1]  # targetgroup/NAME/ID
            return MetricSeries(
                f"target group {colour} ({group.split('/')[1]})",
                {"target_group": group, "colour": colour or "", "version": version or ""},
                "AWS/ApplicationELB", (("LoadBalancer", balancer), ("TargetGroup", group)),
                requests="RequestCount", errors="HTTPCode_Target_5XX_Count",
                latency="TargetResponseTime", latency_to_ms=1000.0)

        return VersionSeries(series(self.idle, _short(self.new_definition)),
                             series(self.live, _short(self.live_definition)))

    # ------------------------------------------------------------ preflight

    def preflight(self, *, resuming: bool) -> None:
        services = self.services.services()
        for service in services.values():
            _require_ecs_controller(service)
        groups = {colour: EcsServices.target_group(services[colour]) for colour in COLOURS}
        if groups["blue"] == groups["green"]:
            raise PreflightError("blue and green services share one target group; each needs "
                                 "its own")
        weights = self._check_forward(groups, "the blue and green services' groups")
        if resuming:
            return
        self._choose_live(weights)
        assert self.live is not None
        self.live_definition = str(services[self.live]["taskDefinition"])
        self.desired = int(services[self.live]["desiredCount"])
        if self.desired < 1:
            raise self._live_has_no_tasks(services)
        self._check_new_version()

    def _check_forward(self, groups: dict[str, str], whose: str) -> dict[str, int]:
        """The production action forwards to exactly the two groups (and the test route
        to one or both); its weights."""
        weights = self.production.read()
        if not weights:
            raise PreflightError(f"{self.production.label} has no single forward action")
        if len(weights) > MAX_GROUPS or set(weights) != set(groups.values()):
            missing = [c for c in COLOURS if groups[c] not in weights]
            extra = [arn.rsplit(":", 1)[-1] for arn in weights if arn not in groups.values()]
            detail = "; ".join(filter(None, [
                f"missing the {' and '.join(missing)} group" if missing else "",
                f"also forwards to {', '.join(extra)}" if extra else ""]))
            raise PreflightError(
                f"{self.production.label} forwards to target groups that are not exactly "
                f"{whose} ({detail})",
                hint="make its forward action hold both target groups, e.g. the live one at "
                     "weight 100 and the idle one at weight 0")
        if self.test is not None:
            test_groups = self.test.read()
            if not test_groups or not set(test_groups) <= set(groups.values()):
                raise PreflightError(f"test {self.test.label} must forward to the blue and/or "
                                     "green target group")
        self.groups = groups
        return weights

    def _choose_live(self, weights: dict[str, int]) -> None:
        """The live colour is the one group with weight; a split action is refused."""
        groups = self.groups
        live = [c for c in COLOURS if weights[groups[c]] > 0]
        if len(live) != 1:
            split = ", ".join(f"{c} {weights[groups[c]]}" for c in COLOURS)
            raise PreflightError(
                f"{self.production.label} is split ({split}): another release may be in "
                "progress", hint="finish or roll back that release (deployer rollback PLAN)")
        self.live, self.idle = live[0], ("green" if live[0] == "blue" else "blue")
        self._last_set = {groups[c]: weights[groups[c]] for c in COLOURS}

    def _check_new_version(self) -> None:
        """The image's container exists; a release of what already serves is done."""
        assert self.live_definition is not None
        if self.spec.image is not None:
            self.services.check_image_target(self.live_definition)
            self._done = self.services.image_of(self.live_definition) == self.spec.image.uri
        else:
            assert self.spec.task_definition is not None
            wanted = self.services.describe_task_definition(self.spec.task_definition)
            self._done = wanted["taskDefinitionArn"] == self.live_definition
        if self._done:
            self.new_definition = self.live_definition

    def serving_colour(self) -> tuple[str, str]:
        """With nothing else to go on (an emergency rollback without a run): the colour
        holding the larger weight, unless it has no tasks and the other one has. Returns
        the colour and why it was chosen."""
        weights = self.production.read()
        shares = {c: weights.get(self._group(c), 0) for c in COLOURS}
        tasks = {c: int(s.get("desiredCount") or 0) for c, s in self.services.services().items()}
        heavier = max(COLOURS, key=lambda c: (shares[c], tasks[c]))
        other = "green" if heavier == "blue" else "blue"
        split = f"blue {shares['blue']}, green {shares['green']}"
        if tasks[heavier] == 0 and tasks[other] > 0:
            return other, (f"{heavier} holds the larger weight ({split}) but has no tasks; "
                           f"{other} has {tasks[other]}")
        return heavier, f"{heavier} holds the larger weight ({split})"

    def already_done(self) -> bool:
        return self._done

    # ------------------------------------------------------------ prepare

    def prepare(self) -> None:
        assert self.live_definition is not None and self.desired is not None
        self.new_definition = self.services.new_task_definition(self.live_definition)
        idle = self._service(self.idle)
        self.services.deploy(idle, self.new_definition, self.desired)
        self.services.wait_healthy(idle, self._group(self.idle), self.desired)
        if self.test is not None:
            self._point(self.test, self.idle)

    def _point(self, action: ForwardAction, colour: str | None) -> None:
        """All of `action`'s traffic to `colour` (used for the test listener)."""
        other = "green" if colour == "blue" else "blue"
        current = action.read()
        weights = {self._group(colour): 100}
        if self._group(other) in current:
            weights[self._group(other)] = 0
        action.write(weights)
        after = action.read()
        if after.get(self._group(colour), 0) <= 0 or any(
                w for arn, w in after.items() if arn != self._group(colour)):
            raise TargetError(f"{action.label} reads back {after} after pointing it at {colour}")

    # ------------------------------------------------------------ traffic

    def _group(self, colour: str | None) -> str:
        if colour is None or colour not in self.groups:
            raise TargetError("the colours are unknown (preflight did not run)")
        return self.groups[colour]

    def read(self) -> TrafficReading:
        weights = self.production.read()
        new, old = self._group(self.idle), self._group(self.live)
        detail = ", ".join(f"{'new' if arn == new else 'stable' if arn == old else arn} "
                           f"{weight}" for arn, weight in weights.items())
        total = weights.get(new, 0) + weights.get(old, 0)
        if not set(weights) <= {new, old} or total == 0:
            return TrafficReading(None, f"{self.production.label}: {detail}")
        share = round(weights.get(new, 0) / total * 100, 4)
        return TrafficReading(share, f"{share:g}% on {self.idle} ({detail})")

    def shift(self, weight: float) -> TrafficReading:
        new, old = alb_weights(weight)
        wanted = {self._group(self.idle): new, self._group(self.live): old}
        self.production.write(wanted, expect=self._last_set)
        reading = self._verify(weight)
        self._last_set = wanted
        return reading

    def rollback(self) -> TrafficReading:
        restored = {self._group(self.idle): 0, self._group(self.live): 100}
        self.production.write(restored)  # a rollback goes on whatever it finds
        reading = self._verify(0.0)
        self._last_set = restored
        try:
            self._restore_test_route()
        except DeployerError as exc:  # production is whole; discard_new() tries again
            self.log.warning("test_route_restore_failed", error=exc.message)
        return reading

    def _restore_test_route(self) -> None:
        """Test traffic back on the stable colour, if any of it still reaches the new one
        (which is about to be scaled to 0)."""
        if self.test is not None and self.test.read().get(self._group(self.idle), 0) > 0:
            self._point(self.test, self.live)

    def _verify(self, weight: float) -> TrafficReading:
        reading = self.read()
        if reading.new_weight is None or not math.isclose(reading.new_weight, weight,
                                                          abs_tol=0.01):
            raise TargetError(f"{self.production.label} reads back {reading.detail} after "
                              f"asking for {weight:g}% on {self.idle}")
        return reading

    def retire_old(self) -> None:
        self.services.scale_to_zero(self._service(self.live))

    def restore_stable(self) -> None:
        """The stable colour back to the serving colour's task count (it was scaled to 0
        after keep_old_for), on its own task definition, then stable and healthy."""
        services = self.services.services()
        stable, serving = services[self.live or ""], services[self.idle or ""]
        wanted = max(int(serving.get("desiredCount") or 0), self.desired or 0, 1)
        if int(stable.get("desiredCount") or 0) >= wanted:
            return
        definition = self.live_definition or str(stable["taskDefinition"])
        name = self._service(self.live)
        self.log.info("restoring_stable", service=name, desired=wanted)
        self.services.deploy(name, definition, wanted)
        self.services.wait_healthy(name, self._group(self.live), wanted)

    def discard_new(self) -> None:
        """Undo what prepare did: the test route back on stable, the new colour to 0.
        Also after a rollback that never had to move production traffic (a failing
        before_traffic hook), since prepare had already pointed the test route."""
        if self.idle is None:
            return
        try:
            if self.groups:
                self._restore_test_route()
        finally:
            self._remove_new()

    def _remove_new(self) -> None:
        """What the new version runs on goes away: the idle service to 0 tasks."""
        self.services.scale_to_zero(self._service(self.idle))

    def _live_has_no_tasks(self, services: dict[str, dict[str, Any]]) -> PreflightError:
        """The listener sends everything to a colour with 0 tasks: typically a
        `terraform apply` that reset the forward action to what the code says."""
        other = "green" if self.live == "blue" else "blue"
        message = (f"{self.production.label} sends all traffic to {self.live} "
                   f"({self._service(self.live)}), which has desiredCount 0")
        if int(services[other].get("desiredCount") or 0) > 0:
            return PreflightError(
                message + f"; {other} ({self._service(other)}) has "
                f"{services[other]['desiredCount']} tasks. A terraform apply (or someone) "
                "may have reset the listener's weights",
                hint=f"put traffic back on {other} first: deployer rollback PLAN --to {other} "
                     "(and see docs/migrating.md: lifecycle ignore_changes on the listener)")
        return PreflightError(message + f", and so has {other}",
                              hint="scale the service that should serve up first")


def _require_ecs_controller(service: dict[str, Any]) -> None:
    """Two-service plans drive UpdateService, which AWS refuses on services whose task
    sets belong to CodeDeploy or to an external controller."""
    kind = (service.get("deploymentController") or {}).get("type", "ECS")
    if kind == "ECS":
        return
    name = service["serviceName"]
    if kind == "CODE_DEPLOY":
        hint = ("a CODE_DEPLOY service can only be changed by CodeDeploy. Give deployer two "
                "services on the ECS controller, one per target group (docs/migrating.md, "
                "'From CodeDeploy ECS'), or keep releasing this one with CodeDeploy")
    else:
        hint = ("an EXTERNAL service is released by task sets: write `service: NAME` and "
                "`target_groups: {blue, green}` instead of `services:` (docs/ecs.md)")
    raise PreflightError(f"service {name} uses the {kind} deployment controller; a "
                         "two-service plan needs both services on the ECS controller",
                         hint=hint)


def _short(task_definition: str | None) -> str | None:
    return task_definition.rsplit("/", 1)[-1] if task_definition else None
