"""Blue/green behind an ALB: two target groups ("colours") and a listener (or rule)
whose forward action weighs them, and optionally a test listener/rule. What runs
behind each group is the subclass's: ECS services or task sets (ecs_alb.py,
ecs_task_sets.py), EC2 Auto Scaling groups (asg.py).

Which colour is live comes from AWS, not memory: the group with all the weight. A
shift writes both weights and reads them back; a write that finds weights this run
did not set is someone else's change (drift), never overwritten; a rollback puts all
the weight back on the live colour whatever it finds, and the test route with it.
"""

from __future__ import annotations

import math
from typing import Any

from deployer.aws import AwsContext
from deployer.core.ports import MetricSeries, TrafficReading, VersionSeries
from deployer.errors import DeployerError, PreflightError, TargetError
from deployer.logs import get_logger
from deployer.targets.alb_weights import MAX_GROUPS, ForwardAction, alb_weights
from deployer.targets.colours import COLOURS, other


class AlbBlueGreen:
    """The traffic half of a blue/green target; subclasses add the compute half
    (`describe`, `preflight`, `prepare`, `retire_old`, `restore_stable`, `_remove_new`,
    `_capacities`, `_versions`)."""

    def __init__(self, listener: str, test_route: str | None, aws: AwsContext,
                 state: dict[str, Any] | None = None) -> None:
        self.aws = aws
        self.production = ForwardAction(listener, aws)
        self.test = ForwardAction(test_route, aws) if test_route else None
        state = state or {}
        self.live: str | None = state.get("stable_colour")
        self.idle: str | None = state.get("new_colour")
        self.groups: dict[str, str] = dict(state.get("target_groups") or {})
        # What this run last set (or found at preflight) on the production action; None
        # after a takeover, where the controller has already compared it with the record.
        self._last_set: dict[str, int] | None = None
        self._done = False
        self.log = get_logger()

    # ------------------------------------------------------------ what subclasses say

    def _capacities(self) -> dict[str, int]:
        """Colour -> how many tasks or instances it runs now."""
        raise NotImplementedError

    def _versions(self) -> tuple[str | None, str | None]:
        """(new, stable) version labels, for the metric series."""
        raise NotImplementedError

    def _remove_new(self) -> None:
        """What the new version runs on goes away (scaled to 0, deleted)."""
        raise NotImplementedError

    UNIT = "tasks"  # what `_capacities` counts, in messages

    # ------------------------------------------------------------ metrics

    def metric_series(self) -> VersionSeries:
        """Per target group, under the listener's load balancer. ALB-made 5xx
        (HTTPCode_ELB_5XX_Count) exist only per load balancer: they cannot be split."""
        balancer = "/".join(self.production.arn.split(":", 5)[-1].split("/")[1:4])
        new_version, stable_version = self._versions()

        def series(colour: str | None, version: str | None) -> MetricSeries:
            group = self._group(colour).rsplit(":", 1)[-1]  # targetgroup/NAME/ID
            return MetricSeries(
                f"target group {colour} ({group.split('/')[1]})",
                {"target_group": group, "colour": colour or "", "version": version or ""},
                "AWS/ApplicationELB", (("LoadBalancer", balancer), ("TargetGroup", group)),
                requests="RequestCount", errors="HTTPCode_Target_5XX_Count",
                latency="TargetResponseTime", latency_to_ms=1000.0)

        return VersionSeries(series(self.idle, new_version), series(self.live, stable_version))

    # ------------------------------------------------------------ preflight

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
        self.live, self.idle = live[0], other(live[0])
        self._last_set = {groups[c]: weights[groups[c]] for c in COLOURS}

    def serving_colour(self) -> tuple[str, str]:
        """With nothing else to go on (an emergency rollback without a run): the colour
        holding the larger weight, unless it runs nothing and the other one does.
        Returns the colour and why it was chosen."""
        weights = self.production.read()
        shares = {c: weights.get(self._group(c), 0) for c in COLOURS}
        running = self._capacities()
        heavier = max(COLOURS, key=lambda c: (shares[c], running[c]))
        lighter = other(heavier)
        split = f"blue {shares['blue']}, green {shares['green']}"
        if running[heavier] == 0 and running[lighter] > 0:
            return lighter, (f"{heavier} holds the larger weight ({split}) but has no "
                             f"{self.UNIT}; {lighter} has {running[lighter]}")
        return heavier, f"{heavier} holds the larger weight ({split})"

    def already_done(self) -> bool:
        return self._done

    # ------------------------------------------------------------ traffic

    def _point(self, action: ForwardAction, colour: str | None) -> None:
        """All of `action`'s traffic to `colour` (used for the test listener)."""
        current = action.read()
        weights = {self._group(colour): 100}
        if self._group(other(colour)) in current:
            weights[self._group(other(colour))] = 0
        action.write(weights)
        after = action.read()
        if after.get(self._group(colour), 0) <= 0 or any(
                w for arn, w in after.items() if arn != self._group(colour)):
            raise TargetError(f"{action.label} reads back {after} after pointing it at {colour}")

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

    def discard_new(self) -> None:
        """Undo what prepare did: the test route back on stable, the new colour gone.
        Also after a rollback that never had to move production traffic (a failing
        before_traffic hook), since prepare had already pointed the test route."""
        if self.idle is None:
            return
        try:
            if self.groups:
                self._restore_test_route()
        finally:
            self._remove_new()
