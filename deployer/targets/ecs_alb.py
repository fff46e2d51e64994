"""ECS/Fargate blue/green behind an ALB: two services, one target group each, and a
listener (or rule) whose forward action weighs the two groups (the traffic half is
alb_blue_green.py's).

The idle colour gets the new task definition, is waited on until stable and
healthy, optionally receives the test listener's traffic, then production weight.
The stable service is never touched until the run has succeeded and
keep_old_for has passed; a rollback scales only the new colour to 0.
"""

from __future__ import annotations

from typing import Any

from deployer.aws import AwsContext
from deployer.core.ports import Clock
from deployer.errors import PreflightError
from deployer.logs import get_logger
from deployer.plan.model import EcsTarget
from deployer.targets.alb_blue_green import AlbBlueGreen
from deployer.targets.colours import COLOURS, other
from deployer.targets.ecs_services import EcsServices


class EcsAlbTarget(AlbBlueGreen):
    def __init__(self, spec: EcsTarget, aws: AwsContext, clock: Clock,
                 state: dict[str, Any] | None = None) -> None:
        arn = spec.listener or spec.rule
        assert arn is not None
        super().__init__(arn, spec.test_route, aws, state)
        self.spec = spec
        self.services = EcsServices(spec, aws, clock)
        state = state or {}
        self.live_definition: str | None = state.get("stable_task_definition")
        self.new_definition: str | None = state.get("new_task_definition")
        self.desired: int | None = state.get("desired_count")
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

    def _versions(self) -> tuple[str | None, str | None]:
        return _short(self.new_definition), _short(self.live_definition)

    def _capacities(self) -> dict[str, int]:
        return {c: int(s.get("desiredCount") or 0) for c, s in self.services.services().items()}

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

    # ------------------------------------------------------------ prepare

    def prepare(self) -> None:
        assert self.live_definition is not None and self.desired is not None
        self.new_definition = self.services.new_task_definition(self.live_definition)
        idle = self._service(self.idle)
        self.services.deploy(idle, self.new_definition, self.desired)
        self.services.wait_healthy(idle, self._group(self.idle), self.desired)
        if self.test is not None:
            self._point(self.test, self.idle)

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

    def _remove_new(self) -> None:
        """What the new version runs on goes away: the idle service to 0 tasks."""
        self.services.scale_to_zero(self._service(self.idle))

    def _live_has_no_tasks(self, services: dict[str, dict[str, Any]]) -> PreflightError:
        """The listener sends everything to a colour with 0 tasks: typically a
        `terraform apply` that reset the forward action to what the code says."""
        idle = other(self.live)
        message = (f"{self.production.label} sends all traffic to {self.live} "
                   f"({self._service(self.live)}), which has desiredCount 0")
        if int(services[idle].get("desiredCount") or 0) > 0:
            return PreflightError(
                message + f"; {idle} ({self._service(idle)}) has "
                f"{services[idle]['desiredCount']} tasks. A terraform apply (or someone) "
                "may have reset the listener's weights",
                hint=f"put traffic back on {idle} first: deployer rollback PLAN --to {idle} "
                     "(and see docs/migrating.md: lifecycle ignore_changes on the listener)")
        return PreflightError(message + f", and so has {idle}",
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
