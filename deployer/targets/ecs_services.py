"""The two ECS services behind the weighted groups: reading them, the new task
definition (as given, or the live one cloned with one container's image replaced),
deploying the idle colour, and waiting until it is stable and every target healthy."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from deployer.aws import AwsContext
from deployer.core.ports import Clock
from deployer.errors import NewVersionUnhealthy, PreflightError, TargetError
from deployer.logs import get_logger
from deployer.plan.model import EcsTarget

# Fields RegisterTaskDefinition accepts that DescribeTaskDefinition reports: a clone
# carries every one of them, so nothing (secrets, logging, volumes, roles...) is lost.
REGISTERABLE = ("family", "taskRoleArn", "executionRoleArn", "networkMode",
                "containerDefinitions", "volumes", "placementConstraints",
                "requiresCompatibilities", "cpu", "memory", "pidMode", "ipcMode",
                "proxyConfiguration", "inferenceAccelerators", "ephemeralStorage",
                "runtimePlatform", "enableFaultInjection")
HEALTH_POLL = 5.0


class EcsServices:
    def __init__(self, spec: EcsTarget, aws: AwsContext, clock: Clock) -> None:
        self.spec = spec
        self.aws = aws
        self.clock = clock
        self.ecs = aws.client("ecs")
        self.elbv2 = aws.client("elbv2")
        self.log = get_logger(cluster=spec.cluster)

    def services(self) -> dict[str, dict[str, Any]]:
        """Colour -> service description; PreflightError when either is missing."""
        assert self.spec.services is not None
        names = {"blue": self.spec.services.blue, "green": self.spec.services.green}
        try:
            found = self.aws.call(self.ecs.describe_services, cluster=self.spec.cluster,
                                  services=list(names.values()))
        except ClientError as exc:
            if "ClusterNotFound" in str(exc):
                raise PreflightError(f"cluster {self.spec.cluster} does not exist") from None
            raise TargetError(f"cannot read services: {exc}") from exc
        by_name: dict[str, dict[str, Any]] = {}
        for service in found.get("services", []):
            if service.get("status") == "ACTIVE":  # a plan may name a service or its ARN
                by_name[service["serviceName"]] = by_name[service["serviceArn"]] = dict(service)
        missing = [n for n in names.values() if n not in by_name]
        if missing:
            raise PreflightError(f"service {', '.join(missing)} not found (or not ACTIVE) in "
                                 f"cluster {self.spec.cluster}")
        return {colour: by_name[name] for colour, name in names.items()}

    @staticmethod
    def target_group(service: dict[str, Any]) -> str:
        groups = [lb["targetGroupArn"] for lb in service.get("loadBalancers", [])
                  if lb.get("targetGroupArn")]
        if len(groups) != 1:
            raise PreflightError(f"service {service['serviceName']} must be attached to exactly "
                                 f"one target group (has {len(groups)})")
        return str(groups[0])

    # ------------------------------------------------------------ task definitions

    def describe_task_definition(self, name: str) -> dict[str, Any]:
        try:
            answer = self.aws.call(self.ecs.describe_task_definition, taskDefinition=name,
                                   include=["TAGS"])
        except ClientError as exc:
            if "ClientException" in str(exc) or "not found" in str(exc).lower():
                raise PreflightError(f"task definition {name} does not exist") from None
            raise TargetError(f"cannot read task definition {name}: {exc}") from exc
        return {**answer["taskDefinition"], "tags": answer.get("tags", [])}

    def check_image_target(self, live_task_definition: str) -> None:
        assert self.spec.image is not None
        definition = self.describe_task_definition(live_task_definition)
        names = [c["name"] for c in definition["containerDefinitions"]]
        if self.spec.image.container not in names:
            raise PreflightError(f"the live task definition has no container "
                                 f"{self.spec.image.container!r} (it has {', '.join(names)})")

    def image_of(self, task_definition: str) -> str | None:
        assert self.spec.image is not None
        definition = self.describe_task_definition(task_definition)
        return next((c.get("image") for c in definition["containerDefinitions"]
                     if c["name"] == self.spec.image.container), None)

    def new_task_definition(self, live_task_definition: str) -> str:
        if self.spec.task_definition is not None:
            return str(self.describe_task_definition(self.spec.task_definition)
                       ["taskDefinitionArn"])
        assert self.spec.image is not None
        live = self.describe_task_definition(live_task_definition)
        clone = {key: live[key] for key in REGISTERABLE if live.get(key) not in (None, [], {})}
        clone["containerDefinitions"] = [
            {**c, "image": self.spec.image.uri} if c["name"] == self.spec.image.container else c
            for c in live["containerDefinitions"]]
        if live.get("tags"):
            clone["tags"] = live["tags"]
        try:
            registered = self.aws.call(self.ecs.register_task_definition, **clone)
        except ClientError as exc:
            raise TargetError(f"cannot register the new task definition: {exc}") from exc
        arn = str(registered["taskDefinition"]["taskDefinitionArn"])
        self.log.info("task_definition_registered", arn=arn, image=self.spec.image.uri)
        return arn

    # ------------------------------------------------------------ deploying

    def deploy(self, service: str, task_definition: str, desired: int) -> None:
        try:
            self.aws.call(self.ecs.update_service, cluster=self.spec.cluster, service=service,
                          taskDefinition=task_definition, desiredCount=desired)
        except ClientError as exc:
            raise TargetError(f"cannot update service {service}: {exc}") from exc

    def scale_to_zero(self, service: str) -> None:
        try:
            self.aws.call(self.ecs.update_service, cluster=self.spec.cluster, service=service,
                          desiredCount=0)
        except ClientError as exc:
            raise TargetError(f"cannot scale service {service} to 0: {exc}") from exc

    def wait_healthy(self, service: str, target_group: str, desired: int) -> None:
        """Stable (one deployment, running == desired) and every target healthy, within
        `healthy_within`; TargetError otherwise."""
        started = self.clock.now()
        while True:
            problem = self._unready(service, target_group, desired)
            if problem is None:
                return
            if problem.startswith("failed"):
                raise NewVersionUnhealthy(f"service {service} {problem}")
            if self.clock.now() - started >= self.spec.healthy_within:
                raise NewVersionUnhealthy(f"service {service} was not stable and healthy within "
                                          f"{self.spec.healthy_within:g}s: {problem}")
            self.clock.sleep(HEALTH_POLL)

    def _unready(self, service: str, target_group: str, desired: int) -> str | None:
        found = self.aws.call(self.ecs.describe_services, cluster=self.spec.cluster,
                              services=[service])["services"][0]
        deployments = found.get("deployments", [])
        if any(d.get("rolloutState") == "FAILED" for d in deployments):
            reason = next(d.get("rolloutStateReason", "") for d in deployments
                          if d.get("rolloutState") == "FAILED")
            return f"failed to deploy: {reason}"
        if len(deployments) > 1 or found.get("runningCount") != found.get("desiredCount"):
            return (f"{found.get('runningCount')}/{found.get('desiredCount')} tasks running, "
                    f"{len(deployments)} deployments")
        health = self.aws.call(self.elbv2.describe_target_health,
                               TargetGroupArn=target_group)["TargetHealthDescriptions"]
        states = [h["TargetHealth"]["State"] for h in health]
        healthy = states.count("healthy")
        if healthy < desired or any(s in ("initial", "unhealthy") for s in states):
            return f"{healthy}/{desired} targets healthy ({', '.join(states) or 'none'})"
        return None
