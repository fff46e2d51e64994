"""Lambda alias weighted routing: the stable version is the alias's FunctionVersion,
the new one rides in RoutingConfig.AdditionalVersionWeights; 100% means the alias
points at the new version with no routing config.

Every write is read back with GetAlias before the run goes on. Lambda (and moto)
accept weights that real routing rejects, so the rules are enforced here.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from deployer.aws import AwsContext, error_code
from deployer.core.ports import Clock, MetricSeries, TrafficReading, VersionSeries
from deployer.errors import Drift, PreflightError, TargetError
from deployer.plan.model import LambdaTarget
from deployer.targets.lambda_versions import LambdaVersions

if TYPE_CHECKING:
    from mypy_boto3_lambda.type_defs import AliasConfigurationResponseTypeDef

TOLERANCE = 1e-6


class LambdaAliasTarget:
    def __init__(self, spec: LambdaTarget, aws: AwsContext, clock: Clock,
                 state: dict[str, Any] | None = None) -> None:
        self.spec = spec
        self.aws = aws
        self.client = aws.client("lambda")
        self.versions = LambdaVersions(spec, aws, clock)
        state = state or {}
        self.stable: str | None = state.get("stable_version")
        self.new: str | None = state.get("new_version") or spec.version
        self.revision: str | None = None
        self.versions.provisioned = (state.get("provisioned_concurrency") or {}).get("new_version")

    # ------------------------------------------------------------ identity

    def describe(self) -> dict[str, Any]:
        return {"kind": "lambda", "function": self.spec.function, "alias": self.spec.alias,
                **self.aws.where, "stable_version": self.stable,
                "new_version": self.new,
                "provisioned_concurrency": self.versions.state()}

    def hook_context(self) -> dict[str, str]:
        return {"DEPLOYER_TARGET": "lambda", "DEPLOYER_FUNCTION": self.spec.function,
                "DEPLOYER_ALIAS": self.spec.alias, "DEPLOYER_STABLE_VERSION": self.stable or "",
                "DEPLOYER_NEW_VERSION": self.new or ""}

    def metric_series(self) -> VersionSeries:
        function = self.spec.function.rsplit(":", 1)[-1]  # the bare name, also from an ARN

        def series(version: str) -> MetricSeries:
            return MetricSeries(
                f"version {version}", {"version": version}, "AWS/Lambda",
                (("FunctionName", function), ("Resource", f"{function}:{self.spec.alias}"),
                 ("ExecutedVersion", version)),
                requests="Invocations", errors="Errors", latency="Duration")

        return VersionSeries(series(self._new_version()), series(self._stable_version()))

    # ------------------------------------------------------------ preflight

    def _get_alias(self) -> AliasConfigurationResponseTypeDef:
        try:
            alias = self.aws.call(self.client.get_alias, FunctionName=self.spec.function,
                                  Name=self.spec.alias)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                raise PreflightError(
                    f"alias {self.spec.alias} of function {self.spec.function} does not exist",
                    hint="create the alias on the stable version first "
                         "(aws lambda create-alias)") from None
            raise TargetError(f"cannot read alias {self.spec.alias}: {exc}") from exc
        self.revision = alias.get("RevisionId")
        return alias

    def preflight(self, *, resuming: bool) -> None:
        alias = self._get_alias()
        weights = _weights(alias)
        current = alias["FunctionVersion"]
        if resuming:
            return  # the record knows stable/new; read() reports where traffic is
        if current == "$LATEST":
            raise PreflightError(f"alias {self.spec.alias} points at $LATEST; weighted routing "
                                 "needs a published stable version")
        if weights:
            raise PreflightError(
                f"alias {self.spec.alias} is already split ({_split_text(current, weights)}): "
                "another release may be in progress",
                hint="finish or roll back that release (deployer rollback PLAN) first")
        self.stable = current
        if self.new is not None:
            self.versions.require_published(self.new)
        if self.new == self.stable:
            return  # already_done() reports a no-op success
        self.versions.require_compatible(self.stable, self.new or "$LATEST")

    def primary_version(self) -> str:
        """The version the alias points at (its routing config aside)."""
        return str(self._get_alias()["FunctionVersion"])

    def already_done(self) -> bool:
        return self.new is not None and self.new == self.stable

    # ------------------------------------------------------------ prepare

    def prepare(self) -> None:
        if self.new is None:
            self.new = self.versions.publish_new()
            if self.new == self.stable:
                return  # Lambda published nothing new: already_done() says so
            assert self.stable is not None
            self.versions.require_compatible(self.stable, self.new)
        assert self.stable is not None
        self.versions.provision(self.stable, self.new)

    # ------------------------------------------------------------ traffic

    def read(self) -> TrafficReading:
        alias = self._get_alias()
        current, weights = alias["FunctionVersion"], _weights(alias)
        detail = _split_text(current, weights)
        if current == self.new and not weights:
            return TrafficReading(100.0, detail)
        if current == self.stable and set(weights) <= {self.new}:
            return TrafficReading(round(weights.get(self.new or "", 0.0) * 100, 4), detail)
        return TrafficReading(None, detail)

    def shift(self, weight: float) -> TrafficReading:
        if weight >= 100:
            self._update(self._new_version(), {})
        else:
            self._update(self._stable_version(), {self._new_version(): weight / 100})
        return self._verify(weight)

    def rollback(self) -> TrafficReading:
        self._update(self._stable_version(), {})
        return self._verify(0.0)

    def retire_old(self) -> None:
        self.versions.retire(self._stable_version())

    def restore_stable(self) -> None:
        """A published version stays published: it can take traffic at once."""
        self.versions.require_published(self._stable_version())

    def discard_new(self) -> None:
        if self.new is not None:
            self.versions.discard(self.new)

    def _update(self, version: str, weights: dict[str, float]) -> None:
        kwargs: dict[str, Any] = {"FunctionName": self.spec.function, "Name": self.spec.alias,
                                  "FunctionVersion": version,
                                  "RoutingConfig": {"AdditionalVersionWeights": weights}}
        if self.revision:
            kwargs["RevisionId"] = self.revision
        try:
            response = self.aws.call(self.client.update_alias, **kwargs)
        except ClientError as exc:
            if error_code(exc) == "PreconditionFailedException":
                raise Drift(f"drift: alias {self.spec.alias} was changed by someone else "
                            "since deployer last read it") from None
            raise TargetError(f"UpdateAlias {self.spec.alias} failed: {exc}") from exc
        self.revision = response.get("RevisionId")

    def _verify(self, weight: float) -> TrafficReading:
        reading = self.read()
        if reading.new_weight is None or not math.isclose(reading.new_weight, weight,
                                                          abs_tol=TOLERANCE * 100):
            raise TargetError(f"alias {self.spec.alias} reads back {reading.detail} after "
                              f"asking for {weight:g}% on version {self.new}")
        return reading

    def _stable_version(self) -> str:
        if self.stable is None:
            raise TargetError("the stable version is unknown (preflight did not run)")
        return self.stable

    def _new_version(self) -> str:
        if self.new is None:
            raise TargetError("the new version is unknown (prepare did not run)")
        return self.new


def _weights(alias: AliasConfigurationResponseTypeDef) -> dict[str, float]:
    routing = alias.get("RoutingConfig") or {}
    return dict(routing.get("AdditionalVersionWeights") or {})


def _split_text(current: str, weights: dict[str, float]) -> str:
    if not weights:
        return f"100% on version {current}"
    parts = [f"{w * 100:g}% on version {v}" for v, w in weights.items()]
    rest = 100 - sum(w * 100 for w in weights.values())
    return ", ".join([f"{rest:g}% on version {current}", *parts])
