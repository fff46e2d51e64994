"""The execution input: what varies per run, resolved by `rollout` before it starts the
machine — each target's routes (route 0 = all on the stable side, then one per shift
of the strategy), the time-scaled waits, the deadline and the hook contexts.

Routes are written as whole values (a Lambda alias's primary version and weights; a
listener's or rule's full action list) and read back against the same values, so
the machine needs no arithmetic on weights.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from deployer.core.clock import iso
from deployer.errors import PreflightError
from deployer.plan.compile import compile_strategy
from deployer.plan.model import ReleasePlan
from deployer.stepfunctions.compiler import HOOK_RETRY_DELAY
from deployer.stepfunctions.table import Entry, shift_weights
from deployer.targets.alb_weights import ForwardAction, alb_weights, with_weights

NO_DEADLINE = "9999-12-31T23:59:59Z"


def lambda_leg(name: str, described: dict[str, Any], weights: list[float]) -> dict[str, Any]:
    stable, new = described["stable_version"], described["new_version"]

    def route(weight: float) -> dict[str, Any]:
        if weight >= 100:
            return {"primary": new, "weights": {}}
        if weight <= 0:
            return {"primary": stable, "weights": {}}
        return {"primary": stable, "weights": {new: weight / 100}}

    leg = {"name": name, "kind": "lambda", "function": described["function"],
           "alias": described["alias"], "layout": "alias",
           "stable_version": stable, "new_version": new,
           "routes": [route(0.0)] + [route(w) for w in weights]}
    if described.get("provisioned_concurrency"):  # rollout gave the new version some
        leg["pc"] = "pc"
    return leg


def elb_leg(name: str, described: dict[str, Any], actions: list[dict[str, Any]],
            weights: list[float], test_actions: list[dict[str, Any]] | None = None
            ) -> dict[str, Any]:
    """An ECS target: the production listener/rule's full action list per route."""
    groups = described["target_groups"]
    stable_group = groups[described["stable_colour"]]
    new_group = groups[described["new_colour"]]
    arn = described["listener"] or described["rule"]
    forwards = [i for i, a in enumerate(actions) if a.get("Type") == "forward"]
    if len(forwards) != 1:
        raise PreflightError(f"{arn} has {len(forwards)} forward actions: deployer moves "
                             "the weights of exactly one")
    forward = forwards[0]

    def route(weight: float) -> dict[str, Any]:
        new, old = alb_weights(weight)
        written = with_weights(actions, {stable_group: old, new_group: new})
        listed = written[forward]["ForwardConfig"]["TargetGroups"]
        return {"actions": written,
                "groups": [{"TargetGroupArn": g["TargetGroupArn"], "Weight": g["Weight"]}
                           for g in listed]}

    leg: dict[str, Any] = {
        "name": name, "kind": "rule" if described["rule"] else "listener", "arn": arn,
        "cluster": described.get("cluster"),
        "routes": [route(0.0)] + [route(w) for w in weights],
    }
    test_arn = described.get("test_listener") or described.get("test_rule")
    if test_arn and test_actions is not None:
        leg["testkind"] = "test_listener" if described.get("test_listener") else "test_rule"
        leg["test"] = {"arn": test_arn, "restore": _test_restore(
            test_arn, test_actions, stable_group, new_group)}
    if described["kind"] == "asg":
        leg.update(layout="asg", stable_group=described["stable_group"],
                   new_group=described["new_group"])
    elif described.get("stable_task_set") is not None:
        leg.update(layout="task_sets", service=described["service"],
                   stable_task_set=described["stable_task_set"],
                   new_task_set=described["new_task_set"])
    else:
        leg.update(layout="services", stable_service=described["stable_service"],
                   new_service=described["new_service"])
    return leg


def _test_restore(arn: str, actions: list[dict[str, Any]], stable_group: str,
                  new_group: str) -> dict[str, Any]:
    """The test route with all its traffic on the stable group (the new group, if it
    forwards to it, at 0): what a rollback writes back."""
    forwards = [i for i, a in enumerate(actions) if a.get("Type") == "forward"]
    if len(forwards) != 1:
        raise PreflightError(f"test route {arn} has {len(forwards)} forward actions: "
                             "deployer moves exactly one")
    listed = actions[forwards[0]].get("ForwardConfig", {}).get("TargetGroups") or []
    weights = {stable_group: 100}
    if any(g.get("TargetGroupArn") == new_group for g in listed) or not listed:
        weights[new_group] = 0
    written = with_weights(actions, weights)
    groups = written[forwards[0]]["ForwardConfig"]["TargetGroups"]
    return {"actions": written,
            "groups": [{"TargetGroupArn": g["TargetGroupArn"], "Weight": g["Weight"]}
                       for g in groups]}


def leg_input(name: str, described: dict[str, Any], plan: ReleasePlan,
              actions: list[dict[str, Any]] | None,
              test_actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    weights = shift_weights(compile_strategy(plan.strategy))
    if described["kind"] == "lambda":
        leg = lambda_leg(name, described, weights)
    else:
        assert actions is not None
        leg = elb_leg(name, described, actions, weights, test_actions)
    spec = next(entry.spec for entry in plan.legs if entry.name == name)
    if spec.role_arn:  # another account: every call about it made with this role
        leg["role"] = spec.role_arn
    return leg


def production_actions(described: dict[str, Any], aws: Any) -> list[dict[str, Any]]:
    """The production listener's or rule's actions as AWS reports them now."""
    return ForwardAction(described["listener"] or described["rule"], aws).actions()


def test_route_actions(described: dict[str, Any], aws: Any) -> list[dict[str, Any]] | None:
    """The test listener's or rule's actions as AWS reports them now (none: no test
    route)."""
    arn = described.get("test_listener") or described.get("test_rule")
    return ForwardAction(arn, aws).actions() if arn else None


def execution_input(plan: ReleasePlan, run_id: str, legs: dict[str, dict[str, Any]],
                    contexts: list[dict[str, dict[str, str]]], entries: list[Entry],
                    started: datetime, time_scale: float,
                    muted: list[str] | None = None,
                    analysis: dict[str, Any] | None = None,
                    windows: dict[str, Any] | None = None,
                    override: dict[str, Any] | None = None) -> dict[str, Any]:
    def scaled(seconds: float) -> int:
        return max(1, math.ceil(seconds / time_scale))

    waves = [[legs[name] for name in wave] for wave in plan.wave_names]
    deadline = (iso(started + timedelta(seconds=plan.deadline / time_scale))
                if plan.deadline is not None else NO_DEADLINE)
    return {
        "run": {"id": run_id, "poll": scaled(plan.checks.poll_every), "deadline": deadline,
                "hook_delay": scaled(HOOK_RETRY_DELAY),
                # an approval's, or an analysis gate's (on_inconclusive: approve)
                "timeouts": [scaled(e.timeout) if e.timeout else 0 for e in entries],
                # already_firing: ignore: the alarms in ALARM at preflight (SPEC §11b)
                "muted": sorted(muted or []),
                # --override-window (SPEC §14): {"by", "reason"}; the machine then never holds
                **({"override": override} if override else {})},
        "pos": {"at": 0},
        "waves": waves,
        "all": [leg for wave in waves for leg in wave],
        "contexts": contexts,
        "cur": {"legs": [], "context": {}, "route": 0, "weight": 0},
        **({"analysis": analysis} if analysis is not None else {}),
        **({"windows": windows, "held": {"n": 0, "in": False}} if windows is not None else {}),
    }
