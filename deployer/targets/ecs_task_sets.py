"""ECS with one service (SPEC §9): the EXTERNAL deployment controller and task sets.

The service's PRIMARY task set serves the target group holding all the weight. A
release creates a new task set from the new task definition on the idle group, with
the primary's network and launch settings, at 100% scale; waits until it is steady
and every target healthy; then shifts the listener's weights exactly as the
two-service layout does (the listener logic is EcsAlbTarget's). On success the new
task set becomes PRIMARY and, after keep_old_for, the old one is deleted; on rollback
the new one is deleted. Both deletions are idempotent, so a resumed run finishes them.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from deployer.aws import AwsContext, error_code
from deployer.core.ports import Clock
from deployer.errors import NewVersionUnhealthy, PreflightError, TargetError
from deployer.plan.model import EcsTarget
from deployer.targets.colours import COLOURS
from deployer.targets.ecs_alb import EcsAlbTarget
from deployer.targets.ecs_services import HEALTH_POLL

LIVE_TASK_SETS = ("PRIMARY", "ACTIVE")


class EcsTaskSetTarget(EcsAlbTarget):
    def __init__(self, spec: EcsTarget, aws: AwsContext, clock: Clock,
                 state: dict[str, Any] | None = None) -> None:
        super().__init__(spec, aws, clock, state)
        assert spec.service is not None and spec.target_groups is not None
        self.service_name = spec.service
        self.clock = clock
        self.ecs = aws.client("ecs")
        self.elbv2 = aws.client("elbv2")
        state = state or {}
        self.stable_task_set: str | None = state.get("stable_task_set")
        self.new_task_set: str | None = state.get("new_task_set")
        self._primary: dict[str, Any] = {}

    def _service(self, colour: str | None) -> str:
        return self.service_name

    # ------------------------------------------------------------ identity

    def describe(self) -> dict[str, Any]:
        described = super().describe()
        described.pop("stable_service", None)
        described.pop("new_service", None)
        return {**described, "service": self.service_name,
                "stable_task_set": self.stable_task_set, "new_task_set": self.new_task_set}

    def hook_context(self) -> dict[str, str]:
        context = super().hook_context()
        context.pop("DEPLOYER_NEW_SERVICE", None)
        context.pop("DEPLOYER_STABLE_SERVICE", None)
        return {**context, "DEPLOYER_SERVICE": self.service_name,
                "DEPLOYER_NEW_TASK_SET": self.new_task_set or "",
                "DEPLOYER_STABLE_TASK_SET": self.stable_task_set or ""}

    # ------------------------------------------------------------ preflight

    def preflight(self, *, resuming: bool) -> None:
        service = self._describe_service()
        kind = (service.get("deploymentController") or {}).get("type", "ECS")
        if kind != "EXTERNAL":
            raise PreflightError(
                f"service {self.service_name} uses the {kind} deployment controller; a "
                "one-service plan needs EXTERNAL (task sets driven by deployer)",
                hint="create the service with deploymentController EXTERNAL and its first "
                     "task set (docs/ecs.md), or use two services on the ECS controller "
                     "(services: {blue, green})")
        groups = self._resolve_groups()
        weights = self._check_forward(groups, "the plan's target_groups")
        if resuming:
            return
        task_sets = [t for t in service.get("taskSets", [])
                     if t.get("status") in LIVE_TASK_SETS]
        leftovers = [t for t in task_sets if t.get("status") != "PRIMARY"]
        if leftovers:
            ids = ", ".join(t["id"] for t in leftovers)
            raise PreflightError(
                f"service {self.service_name} has a task set besides its primary ({ids}): "
                "a leftover of an earlier release, or one in progress",
                hint=" ; ".join(f"aws ecs delete-task-set --cluster {self.spec.cluster} "
                                f"--service {self.service_name} --task-set {t['id']}"
                                for t in leftovers))
        if len(task_sets) != 1:
            raise PreflightError(f"service {self.service_name} has no PRIMARY task set",
                                 hint="create its first task set on the live target group "
                                      "and make it primary (docs/ecs.md)")
        primary = task_sets[0]
        self._choose_live(weights)
        assert self.live is not None
        serves = [lb.get("targetGroupArn") for lb in primary.get("loadBalancers", [])]
        if serves != [groups[self.live]]:
            raise PreflightError(
                f"the primary task set {primary['id']} of {self.service_name} serves "
                f"{', '.join(str(s).rsplit(':', 1)[-1] for s in serves) or 'no group'}, but "
                f"{self.production.label} sends all traffic to the {self.live} group",
                hint="point the listener at the primary task set's group first "
                     "(deployer rollback PLAN --to COLOUR)")
        self._primary = primary
        self.stable_task_set = str(primary["taskSetArn"])
        self.live_definition = str(primary["taskDefinition"])
        self.desired = int(service.get("desiredCount") or 0)
        if self.desired < 1:
            raise PreflightError(f"service {self.service_name} has desiredCount 0")
        self._check_new_version()

    def _describe_service(self) -> dict[str, Any]:
        try:
            found = self.aws.call(self.ecs.describe_services, cluster=self.spec.cluster,
                                  services=[self.service_name])
        except ClientError as exc:
            if "ClusterNotFound" in str(exc):
                raise PreflightError(f"cluster {self.spec.cluster} does not exist") from None
            raise TargetError(f"cannot read service {self.service_name}: {exc}") from exc
        services = [s for s in found.get("services", []) if s.get("status") == "ACTIVE"]
        if not services:
            raise PreflightError(f"service {self.service_name} not found (or not ACTIVE) in "
                                 f"cluster {self.spec.cluster}")
        return dict(services[0])

    def _resolve_groups(self) -> dict[str, str]:
        """Colour -> target group ARN; names are looked up."""
        wanted = self.spec.target_groups
        assert wanted is not None
        given = {"blue": wanted.blue, "green": wanted.green}
        names = [g for g in given.values() if not g.startswith("arn:")]
        found: dict[str, str] = {}
        if names:
            try:
                answer = self.aws.call(self.elbv2.describe_target_groups, Names=names)
            except ClientError as exc:
                if error_code(exc) == "TargetGroupNotFound":
                    raise PreflightError(f"target group not found: {', '.join(names)}") \
                        from None
                raise TargetError(f"cannot read target groups: {exc}") from exc
            found = {g["TargetGroupName"]: g["TargetGroupArn"]
                     for g in answer.get("TargetGroups", [])}
        return {colour: found.get(name, name) for colour, name in given.items()}

    # ------------------------------------------------------------ prepare

    def prepare(self) -> None:
        assert self.live_definition is not None and self.idle is not None
        self.new_definition = self.services.new_task_definition(self.live_definition)
        primary = self._primary or self._find(self.stable_task_set)
        self.new_task_set = self._create_task_set(primary, self.new_definition, self.idle)
        self._wait_steady(self.new_task_set, self.idle)
        if self.test is not None:
            self._point(self.test, self.idle)

    def _create_task_set(self, model: dict[str, Any], task_definition: str,
                         colour: str | None) -> str:
        """A task set of `task_definition` on `colour`'s group at 100% scale, with the
        network and launch settings of `model` (a task set of this service)."""
        balancer = dict(model["loadBalancers"][0])
        request: dict[str, Any] = {
            "cluster": self.spec.cluster, "service": self.service_name,
            "taskDefinition": task_definition,
            "loadBalancers": [{**balancer, "targetGroupArn": self._group(colour)}],
            "scale": {"value": 100.0, "unit": "PERCENT"}}
        if model.get("networkConfiguration"):
            request["networkConfiguration"] = model["networkConfiguration"]
        if model.get("capacityProviderStrategy"):
            request["capacityProviderStrategy"] = model["capacityProviderStrategy"]
        elif model.get("launchType"):
            request["launchType"] = model["launchType"]
        if model.get("platformVersion") and model.get("launchType") == "FARGATE":
            request["platformVersion"] = model["platformVersion"]
        try:
            created = self.aws.call(self.ecs.create_task_set, **request)["taskSet"]
        except ClientError as exc:
            raise TargetError(f"cannot create a task set of {task_definition}: {exc}") \
                from exc
        return str(created["taskSetArn"])

    def _find(self, arn: str | None) -> dict[str, Any]:
        if arn is None:
            raise TargetError("the task set is unknown (preflight did not run)")
        found = self.aws.call(self.ecs.describe_task_sets, cluster=self.spec.cluster,
                              service=self.service_name, taskSets=[arn])["taskSets"]
        if not found:
            raise TargetError(f"task set {arn.rsplit('/', 1)[-1]} does not exist")
        return dict(found[0])

    def _wait_steady(self, arn: str | None, colour: str | None) -> None:
        """STEADY_STATE and every target of `colour`'s group healthy, within
        healthy_within; NewVersionUnhealthy (a rollback, exit 3) otherwise."""
        assert self.desired is not None
        started = self.clock.now()
        while True:
            task_set = self._find(arn)
            problem = None
            if task_set.get("stabilityStatus") != "STEADY_STATE":
                problem = f"task set {task_set['id']} is {task_set.get('stabilityStatus')}"
            else:
                health = self.aws.call(self.elbv2.describe_target_health,
                                       TargetGroupArn=self._group(colour))
                states = [h["TargetHealth"]["State"]
                          for h in health["TargetHealthDescriptions"]]
                healthy = states.count("healthy")
                if healthy < self.desired or any(s in ("initial", "unhealthy") for s in states):
                    problem = (f"{healthy}/{self.desired} targets healthy "
                               f"({', '.join(states) or 'none'})")
            if problem is None:
                return
            if self.clock.now() - started >= self.spec.healthy_within:
                raise NewVersionUnhealthy(f"task set {task_set['id']} was not steady and "
                                          f"healthy within {self.spec.healthy_within:g}s: "
                                          f"{problem}")
            self.clock.sleep(HEALTH_POLL)

    # ------------------------------------------------------------ after the run

    def retire_old(self) -> None:
        """The new task set becomes PRIMARY; the old one is deleted (keep_old_for is
        over). Both steps may be repeated by a resumed run."""
        if self.new_task_set is None:
            return
        try:
            self.aws.call(self.ecs.update_service_primary_task_set, cluster=self.spec.cluster,
                          service=self.service_name, primaryTaskSet=self.new_task_set)
        except ClientError as exc:
            raise TargetError(f"cannot make the new task set primary: {exc}") from exc
        self._delete(self.stable_task_set)

    def restore_stable(self) -> None:
        """The stable task set, re-created from the stable task definition on the stable
        group (with the current primary's settings) when keep_old_for already deleted
        it, then steady and healthy."""
        if self.stable_task_set is not None:
            try:
                found = self._find(self.stable_task_set)
            except TargetError:
                found = {}
            if found.get("status") in LIVE_TASK_SETS:
                return
        if self.live_definition is None:
            raise TargetError("the stable task definition is unknown: roll back with --to "
                              "only after a run of this plan recorded it")
        model = self._find(self.new_task_set)
        self.stable_task_set = self._create_task_set(model, self.live_definition, self.live)
        self._wait_steady(self.stable_task_set, self.live)

    def _remove_new(self) -> None:
        """The new task set is deleted (after the test route is back: discard_new). After
        an emergency rollback of a release that succeeded, the new task set is the
        primary: the stable one becomes primary first (AWS deletes no primary)."""
        if self.new_task_set is not None and self.stable_task_set is not None:
            try:
                current = self._find(self.new_task_set)
            except TargetError:
                current = {}
            if current.get("status") == "PRIMARY":
                try:
                    self.aws.call(self.ecs.update_service_primary_task_set,
                                  cluster=self.spec.cluster, service=self.service_name,
                                  primaryTaskSet=self.stable_task_set)
                except ClientError as exc:
                    raise TargetError(f"cannot make the stable task set primary: {exc}") \
                        from exc
        self._delete(self.new_task_set)

    def _delete(self, arn: str | None) -> None:
        if arn is None:
            return
        try:
            # force: AWS deletes a task set that still has tasks (scale above 0) only so.
            self.aws.call(self.ecs.delete_task_set, cluster=self.spec.cluster,
                          service=self.service_name, taskSet=arn, force=True)
        except ClientError as exc:
            # AWS says TaskSetNotFoundException; moto a ClientException "does not exist".
            if error_code(exc) in ("TaskSetNotFoundException", "ResourceNotFoundException") \
                    or "does not exist" in str(exc):
                return  # already gone: a resumed run repeating itself
            raise TargetError(f"cannot delete task set {arn.rsplit('/', 1)[-1]}: {exc}") \
                from exc

    def serving_colour(self) -> tuple[str, str]:
        weights = self.production.read()
        shares = {c: weights.get(self._group(c), 0) for c in COLOURS}
        heavier = max(COLOURS, key=lambda c: shares[c])
        return heavier, (f"{heavier} holds the larger weight (blue {shares['blue']}, "
                         f"green {shares['green']})")
