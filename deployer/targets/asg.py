"""EC2 Auto Scaling blue/green behind an ALB (SPEC §15): CodeDeploy's EC2 blue/green
without CodeDeploy. Two Auto Scaling groups, each attached to its own target group,
and a listener (or rule) whose forward action weighs the two groups (the traffic half
is alb_blue_green.py's, as for ECS).

The idle group gets the plan's launch template version (a `$Latest`/`$Default` is
resolved to its number once, so the record names what shipped) and the live group's
capacity, and is waited on until every instance is InService, Healthy and healthy in
its target group; then traffic moves. The live group is never touched until the run
has succeeded and keep_old_for has passed (then it scales to 0); a rollback scales
only the idle group to 0.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from deployer.aws import AwsContext
from deployer.core.ports import Clock
from deployer.errors import NewVersionUnhealthy, PreflightError, TargetError
from deployer.logs import get_logger
from deployer.plan.model import AsgTarget as AsgSpec
from deployer.targets.alb_blue_green import AlbBlueGreen
from deployer.targets.colours import COLOURS, other

HEALTH_POLL = 10.0


class AsgTarget(AlbBlueGreen):
    UNIT = "instances"

    def __init__(self, spec: AsgSpec, aws: AwsContext, clock: Clock,
                 state: dict[str, Any] | None = None) -> None:
        super().__init__(spec.route, spec.test_route, aws, state)
        self.spec = spec
        self.clock = clock
        self.autoscaling = aws.client("autoscaling")
        self.ec2 = aws.client("ec2")
        self.elbv2 = aws.client("elbv2")
        state = state or {}
        self.stable_version: str | None = state.get("stable_version")
        self.new_version: str | None = state.get("new_version")
        self.capacity: dict[str, int] = dict(state.get("capacity") or {})
        self.log = get_logger(groups=f"{spec.groups.blue}/{spec.groups.green}")

    def _name(self, colour: str | None) -> str:
        return self.spec.groups.blue if colour == "blue" else self.spec.groups.green

    # ------------------------------------------------------------ identity

    def describe(self) -> dict[str, Any]:
        template = self.spec.launch_template
        return {
            "kind": "asg", **self.aws.where,
            "listener": self.spec.listener, "rule": self.spec.rule,
            "test_listener": self.spec.test_listener, "test_rule": self.spec.test_rule,
            "stable_colour": self.live, "new_colour": self.idle,
            "stable_group": self._name(self.live) if self.live else None,
            "new_group": self._name(self.idle) if self.idle else None,
            "target_groups": self.groups, "capacity": self.capacity,
            "launch_template": template.name or template.id,
            "stable_version": self.stable_version, "new_version": self.new_version,
        }

    def hook_context(self) -> dict[str, str]:
        return {"DEPLOYER_TARGET": "asg",
                "DEPLOYER_NEW_GROUP": self._name(self.idle),
                "DEPLOYER_STABLE_GROUP": self._name(self.live),
                "DEPLOYER_NEW_VERSION": self.new_version or "",
                "DEPLOYER_STABLE_VERSION": self.stable_version or "",
                "DEPLOYER_NEW_TARGET_GROUP": self.groups.get(self.idle or "", ""),
                "DEPLOYER_TEST_LISTENER": self.spec.test_listener or "",
                "DEPLOYER_TEST_RULE": self.spec.test_rule or ""}

    def _versions(self) -> tuple[str | None, str | None]:
        return self.new_version, self.stable_version

    def _capacities(self) -> dict[str, int]:
        found = self._describe()
        return {c: int(found[c].get("DesiredCapacity") or 0) for c in COLOURS}

    # ------------------------------------------------------------ preflight

    def _describe(self) -> dict[str, dict[str, Any]]:
        names = {c: self._name(c) for c in COLOURS}
        try:
            groups = self.aws.call(self.autoscaling.describe_auto_scaling_groups,
                                   AutoScalingGroupNames=list(names.values()))
        except ClientError as exc:
            raise TargetError(f"cannot read Auto Scaling groups: {exc}") from exc
        found = {g["AutoScalingGroupName"]: g for g in groups.get("AutoScalingGroups", [])}
        missing = [name for name in names.values() if name not in found]
        if missing:
            raise PreflightError(f"Auto Scaling group{'s' if len(missing) > 1 else ''} not "
                                 f"found: {', '.join(missing)}",
                                 hint="check asg.groups (names, and the region)")
        return {c: found[names[c]] for c in COLOURS}

    def preflight(self, *, resuming: bool) -> None:
        found = self._describe()
        groups: dict[str, str] = {}
        for colour in COLOURS:
            attached = list(found[colour].get("TargetGroupARNs") or [])
            if len(attached) != 1:
                raise PreflightError(
                    f"Auto Scaling group {self._name(colour)} is attached to "
                    f"{len(attached)} target groups; deployer needs exactly one per group",
                    hint="attach each group to its own target group (the one the listener "
                         "forwards to for that colour) and nothing else")
            groups[colour] = attached[0]
        if groups["blue"] == groups["green"]:
            raise PreflightError("both Auto Scaling groups are attached to one target group; "
                                 "each needs its own")
        weights = self._check_forward(groups, "the two Auto Scaling groups' target groups")
        if resuming:
            return
        self._choose_live(weights)
        live, idle = found[self.live or ""], found[self.idle or ""]
        self.capacity = {key: int(live.get(key) or 0)
                         for key in ("MinSize", "MaxSize", "DesiredCapacity")}
        if self.capacity["DesiredCapacity"] < 1:
            raise PreflightError(
                f"{self.production.label} sends all traffic to {self.live} "
                f"({self._name(self.live)}), which has DesiredCapacity 0",
                hint=f"put traffic on the group that serves first (deployer rollback PLAN "
                     f"--to {other(self.live)}), or scale {self._name(self.live)} up")
        if int(idle.get("DesiredCapacity") or 0) > 0 or idle.get("Instances"):
            raise PreflightError(
                f"the idle group {self._name(self.idle)} still runs "
                f"{len(idle.get('Instances') or [])} instances: a leftover of an earlier "
                "release, or one in progress",
                hint=f"scale it to 0 first: aws autoscaling update-auto-scaling-group "
                     f"--auto-scaling-group-name {self._name(self.idle)} --min-size 0 "
                     "--desired-capacity 0")
        self.stable_version = self._live_version(live)
        self.new_version = self._resolve_version()
        self._done = self.stable_version == self.new_version

    def _resolve_version(self) -> str:
        """`template:N` for the plan's launch template version."""
        template = self.spec.launch_template
        which = {"LaunchTemplateName": template.name} if template.name else \
            {"LaunchTemplateId": template.id}
        return self._resolve(which, template.version, str(template.name or template.id))

    def _live_version(self, group: dict[str, Any]) -> str | None:
        """The live group's launch template version as `template:N` (None: the group
        uses a launch configuration or a mixed policy deployer does not read)."""
        template = group.get("LaunchTemplate")
        if not template:
            return None
        which = {"LaunchTemplateId": template["LaunchTemplateId"]} \
            if template.get("LaunchTemplateId") else \
            {"LaunchTemplateName": template.get("LaunchTemplateName")}
        return self._resolve(which, str(template.get("Version") or "$Default"),
                             str(template.get("LaunchTemplateName")))

    def _resolve(self, which: dict[str, Any], version: str, label: str) -> str:
        """$Latest / $Default resolved to a number once, so the record names what ran."""
        try:
            found = self.aws.call(self.ec2.describe_launch_template_versions,
                                  Versions=[version], **which)
        except ClientError as exc:
            raise PreflightError(f"launch template {label} version {version} cannot be "
                                 f"read: {exc}") from None
        versions = found.get("LaunchTemplateVersions") or []
        if not versions:
            raise PreflightError(f"launch template {label} has no version {version}")
        chosen = versions[0]
        return f"{chosen['LaunchTemplateName']}:{chosen['VersionNumber']}"

    # ------------------------------------------------------------ prepare

    def prepare(self) -> None:
        assert self.new_version is not None and self.capacity
        name, number = self.new_version.rsplit(":", 1)
        self._update(self.idle, LaunchTemplate={"LaunchTemplateName": name, "Version": number},
                     MinSize=self.capacity["MinSize"], MaxSize=self.capacity["MaxSize"],
                     DesiredCapacity=self.capacity["DesiredCapacity"])
        self._wait_healthy(self.idle, self.capacity["DesiredCapacity"], self.new_version)
        if self.test is not None:
            self._point(self.test, self.idle)

    def _update(self, colour: str | None, **settings: Any) -> None:
        name = self._name(colour)
        try:
            self.aws.call(self.autoscaling.update_auto_scaling_group,
                          AutoScalingGroupName=name, **settings)
        except ClientError as exc:
            raise TargetError(f"cannot update Auto Scaling group {name}: {exc}") from exc

    def _wait_healthy(self, colour: str | None, desired: int, version: str | None) -> None:
        """Every instance InService and Healthy, on `version`, and healthy in the group's
        target group, within healthy_within; NewVersionUnhealthy otherwise."""
        started = self.clock.now()
        while True:
            problem = self._unready(colour, desired, version)
            if problem is None:
                return
            if self.clock.now() - started >= self.spec.healthy_within:
                raise NewVersionUnhealthy(
                    f"Auto Scaling group {self._name(colour)} was not in service and healthy "
                    f"within {self.spec.healthy_within:g}s: {problem}")
            self.clock.sleep(HEALTH_POLL)

    def _unready(self, colour: str | None, desired: int, version: str | None) -> str | None:
        group = self._describe()[colour or ""]
        instances = group.get("Instances") or []
        ready = [i for i in instances if i.get("LifecycleState") == "InService"
                 and i.get("HealthStatus") == "Healthy"
                 and (version is None or _instance_version(i) in (None, version))]
        if len(ready) < desired or len(instances) != len(ready):
            states = ", ".join(sorted(f"{i.get('LifecycleState')}/{i.get('HealthStatus')}"
                                      for i in instances)) or "none"
            return f"{len(ready)}/{desired} instances in service ({states})"
        health = self.aws.call(self.elbv2.describe_target_health,
                               TargetGroupArn=self._group(colour))["TargetHealthDescriptions"]
        state = {h["Target"]["Id"]: h["TargetHealth"]["State"] for h in health}
        unhealthy = [i["InstanceId"] for i in ready if state.get(i["InstanceId"]) != "healthy"]
        if unhealthy:
            shown = ", ".join(f"{i} {state.get(i, 'not registered')}" for i in unhealthy)
            return (f"{len(ready) - len(unhealthy)}/{desired} instances healthy in the target "
                    f"group ({shown})")
        return None

    # ------------------------------------------------------------ after the release

    def retire_old(self) -> None:
        self._update(self.live, MinSize=0, DesiredCapacity=0)

    def _remove_new(self) -> None:
        self._update(self.idle, MinSize=0, DesiredCapacity=0)

    def restore_stable(self) -> None:
        """The stable group back to the serving group's capacity (it was scaled to 0
        after keep_old_for), on its own launch template version, then healthy."""
        found = self._describe()
        stable, serving = found[self.live or ""], found[self.idle or ""]
        wanted = max(int(serving.get("DesiredCapacity") or 0),
                     self.capacity.get("DesiredCapacity", 0), 1)
        if int(stable.get("DesiredCapacity") or 0) >= wanted:
            return
        self.log.info("restoring_stable", group=self._name(self.live), desired=wanted)
        self._update(self.live, MinSize=min(self.capacity.get("MinSize", wanted), wanted),
                     MaxSize=max(int(stable.get("MaxSize") or 0), wanted),
                     DesiredCapacity=wanted)
        self._wait_healthy(self.live, wanted, None)


def _instance_version(instance: dict[str, Any]) -> str | None:
    template = instance.get("LaunchTemplate")
    if not template:
        return None
    return f"{template.get('LaunchTemplateName')}:{template.get('Version')}"
