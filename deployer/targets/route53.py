"""Route 53 weighted records (SPEC §15): two records of one name and type, told apart
by their SetIdentifier, whose weights (0-255) split the answers resolvers give. A
release moves the answers from the record that has them all to the one that has none.

Both weights are written in one ChangeResourceRecordSets batch (atomic), every other
field of each record (TTL, values or alias target, health check) as Route 53 reports
it, and read back. A share that 0-255 cannot express exactly is written as the
nearest split (`route53_weights`) and the run records what was read back. Resolvers
cache an answer for the records' TTL, so the real split lags each change by up to a
TTL: `rollout` warns when a bake is shorter (`ttl_warnings`).

Nothing runs behind the records that deployer deploys: prepare, retire and discard
do nothing, and there are no per-version metrics (alarms judge the release).
"""

from __future__ import annotations

import copy
import math
import re
from functools import lru_cache
from typing import Any

from botocore.exceptions import ClientError

from deployer.aws import AwsContext
from deployer.core.ports import TrafficReading, VersionSeries
from deployer.errors import Drift, PreflightError, TargetError
from deployer.plan.model import Route53Target
from deployer.targets.colours import COLOURS, other

MAX_WEIGHT = 255


@lru_cache(maxsize=256)
def route53_weights(new_percent: float) -> tuple[int, int]:
    """(new, old) weights 0-255 whose share is nearest `new_percent`: a whole
    percentage as p / 100-p (exact), else the closest pair, the larger on a tie."""
    if new_percent <= 0:
        return 0, 100
    if new_percent >= 100:
        return 100, 0
    if float(new_percent).is_integer():
        return int(new_percent), 100 - int(new_percent)
    wanted = new_percent / 100
    ratio = wanted / (1 - wanted) if wanted < 1 else math.inf  # new / old
    candidates = set()
    for weight in range(MAX_WEIGHT + 1):  # each weight of one side, the other's around it
        new = min(ratio * weight, MAX_WEIGHT) if weight else 0.0
        old = min(weight / ratio, MAX_WEIGHT) if ratio > 0 else float(MAX_WEIGHT)
        candidates |= {(math.floor(new), weight), (math.ceil(new), weight),
                       (weight, math.floor(old)), (weight, math.ceil(old))}
    candidates.discard((0, 0))
    return min(candidates, key=lambda pair: (abs(pair[0] / (pair[0] + pair[1]) - wanted),
                                             -(pair[0] + pair[1])))


def share_of(new: int, old: int) -> float:
    """The new record's share in percent; 0 on both is an equal split (Route 53)."""
    return 50.0 if new + old == 0 else round(new / (new + old) * 100, 4)


def unescaped(name: str) -> str:
    """A record name as Route 53 lists it, with any character other than a-z, 0-9, -
    and _ written as a backslash and three octal digits (`\\052.example.com.` for a
    wildcard), back to its characters."""
    return re.sub(r"\\([0-7]{3})", lambda found: chr(int(found.group(1), 8)), name)


class WeightedRecords:
    def __init__(self, spec: Route53Target, aws: AwsContext,
                 state: dict[str, Any] | None = None) -> None:
        self.spec = spec
        self.aws = aws
        self.client = aws.client("route53")
        self.zone = spec.zone.rsplit("/", 1)[-1]
        self.name = spec.name.rstrip(".").lower() + "."
        state = state or {}
        self.live: str | None = state.get("stable_colour")
        self.idle: str | None = state.get("new_colour")
        self.ttl: int | None = state.get("ttl")
        self._last_set: dict[str, int] | None = None

    def _id(self, colour: str | None) -> str:
        return self.spec.records.blue if colour == "blue" else self.spec.records.green

    @property
    def label(self) -> str:
        return f"{self.spec.type} {self.name} in zone {self.zone}"

    # ------------------------------------------------------------ identity

    def describe(self) -> dict[str, Any]:
        return {"kind": "route53", **self.aws.where, "zone": self.zone, "name": self.name,
                "type": self.spec.type, "records": {c: self._id(c) for c in COLOURS},
                "stable_colour": self.live, "new_colour": self.idle, "ttl": self.ttl,
                "stable_version": self._id(self.live) if self.live else None,
                "new_version": self._id(self.idle) if self.idle else None}

    def hook_context(self) -> dict[str, str]:
        return {"DEPLOYER_TARGET": "route53", "DEPLOYER_ZONE": self.zone,
                "DEPLOYER_RECORD_NAME": self.name, "DEPLOYER_RECORD_TYPE": self.spec.type,
                "DEPLOYER_NEW_RECORD": self._id(self.idle),
                "DEPLOYER_STABLE_RECORD": self._id(self.live)}

    def metric_series(self) -> VersionSeries:
        raise TargetError("route53 targets have no per-version metrics (alarms only)")

    # ------------------------------------------------------------ reading

    def records(self) -> dict[str, dict[str, Any]]:
        """Colour -> its record; PreflightError unless the two are a weighted pair of
        one name and type with nothing else weighted beside them."""
        try:
            found = self.aws.call(self.client.list_resource_record_sets, HostedZoneId=self.zone,
                                  StartRecordName=self.name, StartRecordType=self.spec.type,
                                  MaxItems="300")
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "NoSuchHostedZone":
                raise PreflightError(f"hosted zone {self.zone} does not exist") from None
            raise TargetError(f"cannot read {self.label}: {exc}") from exc
        same = [r for r in found.get("ResourceRecordSets", [])
                if unescaped(r["Name"]).lower() == self.name and r["Type"] == self.spec.type]
        by_id = {r.get("SetIdentifier"): r for r in same}
        missing = [self._id(c) for c in COLOURS if self._id(c) not in by_id]
        if missing:
            raise PreflightError(
                f"{self.label} has no record with SetIdentifier {', '.join(missing)}",
                hint="route53.records names the SetIdentifier of each of two weighted records "
                     f"of this name and type (found: {', '.join(map(str, by_id)) or 'none'})")
        pair = {c: by_id[self._id(c)] for c in COLOURS}
        unweighted = [self._id(c) for c in COLOURS if "Weight" not in pair[c]]
        if unweighted:
            raise PreflightError(f"record {', '.join(unweighted)} of {self.label} is not a "
                                 "weighted record", hint="give both records a routing policy "
                                 "of weighted (Weight, SetIdentifier)")
        others = [str(i) for i in by_id if i not in {self._id(c) for c in COLOURS}]
        if others:
            raise PreflightError(
                f"{self.label} has other records beside the pair ({', '.join(others)}): "
                "their weights would take a share deployer does not control",
                hint="keep exactly two weighted records of this name and type")
        ttls = {pair[c].get("TTL") for c in COLOURS}
        if len(ttls) > 1:
            raise PreflightError(f"the two records of {self.label} have different TTLs "
                                 f"({', '.join(map(str, sorted(t or 0 for t in ttls)))}); "
                                 "Route 53 needs one TTL for a weighted set")
        return pair

    @staticmethod
    def _weights(pair: dict[str, dict[str, Any]]) -> dict[str, int]:
        return {c: int(pair[c]["Weight"]) for c in COLOURS}

    # ------------------------------------------------------------ preflight

    def preflight(self, *, resuming: bool) -> None:
        pair = self.records()
        ttl = pair["blue"].get("TTL")
        self.ttl = int(ttl) if ttl is not None else None  # an alias record has none
        if resuming:
            return
        weights = self._weights(pair)
        live = [c for c in COLOURS if weights[c] > 0]
        if len(live) != 1:
            split = ", ".join(f"{self._id(c)} {weights[c]}" for c in COLOURS)
            raise PreflightError(
                f"{self.label} is split ({split}; 0 on both is an equal split): another "
                "release may be in progress",
                hint="finish or roll back that release (deployer rollback PLAN)")
        self.live, self.idle = live[0], other(live[0])
        self._last_set = weights

    def already_done(self) -> bool:
        return False  # a release always moves the answers to the record that has none

    def prepare(self) -> None:
        """Nothing to deploy: the stack behind the idle record is already there."""

    def read(self) -> TrafficReading:
        weights = self._weights(self.records())
        new, old = weights[self._colour(self.idle)], weights[self._colour(self.live)]
        share = share_of(new, old)
        return TrafficReading(share, f"{share:g}% on {self._id(self.idle)} "
                                     f"(weights {self._id(self.idle)} {new}, "
                                     f"{self._id(self.live)} {old})")

    def _colour(self, colour: str | None) -> str:
        if colour not in COLOURS:
            raise TargetError("the records' colours are unknown (preflight did not run)")
        return str(colour)

    # ------------------------------------------------------------ writing

    def shift(self, weight: float) -> TrafficReading:
        new, old = route53_weights(weight)
        return self._write({self._colour(self.idle): new, self._colour(self.live): old},
                           expect=self._last_set)

    def rollback(self) -> TrafficReading:
        return self._write({self._colour(self.idle): 0, self._colour(self.live): 100})

    def _write(self, weights: dict[str, int], expect: dict[str, int] | None = None
               ) -> TrafficReading:
        """Both weights in one change batch, each record otherwise as Route 53 reports
        it; with `expect`, weights this run did not set are drift (nothing written)."""
        pair = self.records()
        current = self._weights(pair)
        if expect is not None and current != expect:
            raise Drift(f"drift: {self.label} weights read {self._shown(current)} but "
                        f"deployer last set {self._shown(expect)}; deployer left them alone")
        changes = []
        for colour in COLOURS:
            record = copy.deepcopy(pair[colour])
            record["Weight"] = weights[colour]
            changes.append({"Action": "UPSERT", "ResourceRecordSet": record})
        try:
            self.aws.call(self.client.change_resource_record_sets, HostedZoneId=self.zone,
                          ChangeBatch={"Comment": "deployer", "Changes": changes})
        except ClientError as exc:
            raise TargetError(f"cannot set the weights of {self.label}: {exc}") from exc
        self._last_set = weights
        reading = self.read()
        asked = share_of(weights[self._colour(self.idle)], weights[self._colour(self.live)])
        if reading.new_weight is None or not math.isclose(reading.new_weight, asked,
                                                          abs_tol=0.01):
            raise TargetError(f"{self.label} reads back {reading.detail} after writing "
                              f"{self._shown(weights)}")
        return reading

    def _shown(self, weights: dict[str, int]) -> str:
        return ", ".join(f"{self._id(c)} {weights[c]}" for c in COLOURS)

    # ------------------------------------------------------------ nothing of ours runs

    def retire_old(self) -> None:
        """The old stack is not deployer's: it keeps running at weight 0."""

    def discard_new(self) -> None:
        """The new stack is not deployer's: it keeps running at weight 0."""

    def restore_stable(self) -> None:
        """Nothing was scaled down: the stable record's stack can take the answers."""

    def serving_colour(self) -> tuple[str, str]:
        weights = self._weights(self.records())
        heavier = max(COLOURS, key=lambda c: weights[c])
        return heavier, (f"{self._id(heavier)} holds the larger weight "
                         f"({self._shown(weights)})")


def ttl_warnings(spec: Route53Target, aws: AwsContext, shortest_bake: float,
                 where: str) -> list[str]:
    """A bake shorter than the records' TTL judges a split clients may not see yet."""
    target = WeightedRecords(spec, aws)
    target.preflight(resuming=True)
    if target.ttl is None or shortest_bake <= 0 or shortest_bake >= target.ttl:
        return []
    return [f"{where}: the records' TTL is {target.ttl}s but the shortest bake is "
            f"{shortest_bake:g}s: resolvers cache answers for the TTL, so a bake judges a split "
            "clients may not see yet; bake at least as long as the TTL (--strict refuses)"]
