"""The weighted forward action of an ALB listener (its default actions) or listener rule.

ModifyListener / ModifyRule replace the whole action list, so every write starts
from what AWS reports and changes only the two weights: the order of actions and
groups, stickiness and any other action (e.g. authentication) are carried over.
Weights are integers 0-999: whole percentages are written as w / 100-w, one
decimal place as 10w / 1000-10w.
"""

from __future__ import annotations

import copy
from typing import Any

from botocore.exceptions import ClientError

from deployer.aws import AwsContext, error_code
from deployer.errors import Drift, PreflightError, TargetError

MAX_GROUPS = 5
MAX_WEIGHT = 999


def alb_weights(new_percent: float) -> tuple[int, int]:
    """(new, old) integer weights for `new_percent` of traffic."""
    if float(new_percent).is_integer():
        new = int(new_percent)
        return new, 100 - new
    new = round(new_percent * 10)
    return new, 1000 - new


class ForwardAction:
    """Reads and writes the two weights of one listener's or rule's forward action."""

    def __init__(self, arn: str, aws: AwsContext) -> None:
        self.arn = arn
        self.aws = aws
        self.client = aws.client("elbv2")
        self.is_rule = ":listener-rule/" in arn
        self.port: int | None = None  # a listener's, once read

    @property
    def label(self) -> str:
        """The listener or rule by its own id (the ARN's last part), with what is known
        of where it sits: `listener f2f7dc8efc522ab2 (port 443)`,
        `rule 9683b2d02a6cabee (on listener f2f7dc8efc522ab2)`."""
        parts = self.arn.split("/")
        if self.is_rule:
            where = f" (on listener {parts[-2]})" if len(parts) >= 3 else ""
            return f"rule {parts[-1]}{where}"
        return f"listener {parts[-1]}" + (f" (port {self.port})" if self.port else "")

    def actions(self) -> list[dict[str, Any]]:
        try:
            if self.is_rule:
                rules = self.aws.call(self.client.describe_rules, RuleArns=[self.arn])["Rules"]
                return [dict(a) for a in rules[0]["Actions"]]
            listeners = self.aws.call(self.client.describe_listeners,
                                      ListenerArns=[self.arn])["Listeners"]
            self.port = listeners[0].get("Port") or self.port
            return [dict(a) for a in listeners[0]["DefaultActions"]]
        except ClientError as exc:
            if error_code(exc) in ("ListenerNotFound", "RuleNotFound"):
                raise PreflightError(f"{self.label} does not exist ({self.arn})") from None
            raise TargetError(f"cannot read {self.label}: {exc}") from exc

    @staticmethod
    def groups(actions: list[dict[str, Any]]) -> dict[str, int]:
        """Target group ARN -> weight of the (single) forward action, in order."""
        forwards = [a for a in actions if a.get("Type") == "forward"]
        if len(forwards) != 1:
            return {}
        forward = forwards[0]
        listed = (forward.get("ForwardConfig") or {}).get("TargetGroups")
        if listed:
            return {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in listed}
        if forward.get("TargetGroupArn"):
            return {forward["TargetGroupArn"]: 1}
        return {}

    def read(self) -> dict[str, int]:
        return self.groups(self.actions())

    def write(self, weights: dict[str, int], expect: dict[str, int] | None = None) -> None:
        """Set these groups' weights; every other field stays as AWS reported it.

        With `expect` (the weights this run last set or read), a forward action that
        reads otherwise was changed by someone else: Drift, and nothing is written. The
        read is the one ModifyListener needs anyway, so the check costs no call."""
        actions = copy.deepcopy(self.actions())
        if expect is not None:
            current = self.groups(actions)
            if any(current.get(arn, 0) != weight for arn, weight in expect.items()):
                raise Drift(f"drift: {self.label} reads {_names(current)} but deployer last "
                            f"set {_names(expect)}; deployer left it alone")
        actions = with_weights(actions, weights)
        try:
            if self.is_rule:
                self.aws.call(self.client.modify_rule, RuleArn=self.arn, Actions=actions)
            else:
                self.aws.call(self.client.modify_listener, ListenerArn=self.arn,
                              DefaultActions=actions)
        except ClientError as exc:
            raise TargetError(f"cannot set weights on {self.label}: {exc}") from exc


def with_weights(actions: list[dict[str, Any]], weights: dict[str, int]
                 ) -> list[dict[str, Any]]:
    """`actions` with the forward action's groups set to `weights` (groups not named
    keep theirs, named groups missing from it are added); every other field as given."""
    actions = copy.deepcopy(actions)
    forward = next(a for a in actions if a.get("Type") == "forward")
    config = dict(forward.get("ForwardConfig") or {})
    listed = config.get("TargetGroups") or [{"TargetGroupArn": forward["TargetGroupArn"],
                                              "Weight": 1}]
    known = {g["TargetGroupArn"] for g in listed}
    for arn in weights:
        if arn not in known:
            listed.append({"TargetGroupArn": arn, "Weight": 0})
    config["TargetGroups"] = [{**g, "Weight": weights.get(g["TargetGroupArn"],
                                                           g.get("Weight", 1))}
                              for g in listed]
    forward["ForwardConfig"] = config
    forward.pop("TargetGroupArn", None)  # a multi-group forward has only ForwardConfig
    return actions


def _names(weights: dict[str, int]) -> str:
    """Target groups by name (targetgroup/NAME/ID) with their weights."""
    return ", ".join(f"{arn.rsplit(':', 1)[-1].split('/')[1] if '/' in arn else arn} {w}"
                     for arn, w in weights.items())
