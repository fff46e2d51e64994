"""CloudWatch metric and composite alarms: every name in one DescribeAlarms call per
poll (batches of 100), with the plan's `insufficient_data` and `already_firing` rules.

An alarm that cannot be read fails closed: a vanished alarm protects nothing, so
the run rolls back (CodeDeploy's default too).
"""

from __future__ import annotations

from collections.abc import Sequence

from botocore.exceptions import ClientError

from deployer.aws import AwsContext
from deployer.core.ports import CheckResult
from deployer.errors import CheckFailed, PreflightError
from deployer.plan.model import AlreadyFiring, ChecksSpec, InsufficientData

BATCH = 100
ALARM, OK, INSUFFICIENT = "ALARM", "OK", "INSUFFICIENT_DATA"


class CloudWatchAlarms:
    def __init__(self, spec: ChecksSpec, aws: AwsContext,
                 muted: Sequence[str] = (), names: Sequence[str] | None = None) -> None:
        # `names`: the run's alarms and every target's own (SPEC §8), else the plan's.
        self.names = list(spec.alarms if names is None else names)
        self.spec = spec
        self.aws = aws
        self.client = aws.client("cloudwatch") if self.names else None
        # Alarms already firing at the start under `already_firing: ignore` are muted
        # until they have been seen OK once; then they protect the run like any other.
        self.muted = set(muted)

    def _states(self) -> dict[str, str]:
        states: dict[str, str] = {}
        if self.client is None:
            return states
        for start in range(0, len(self.names), BATCH):
            batch = self.names[start:start + BATCH]
            try:
                response = self.aws.call(self.client.describe_alarms, AlarmNames=batch,
                                         AlarmTypes=["CompositeAlarm", "MetricAlarm"],
                                         MaxRecords=BATCH)
            except ClientError as exc:
                raise CheckFailed(f"cannot read alarms: {exc}") from exc
            for alarm in [*response.get("MetricAlarms", []), *response.get("CompositeAlarms", [])]:
                states[alarm["AlarmName"]] = alarm["StateValue"]
        return states

    def start(self) -> CheckResult:
        try:
            states = self._states()
        except CheckFailed as exc:
            raise PreflightError(str(exc)) from None
        missing = [n for n in self.names if n not in states]
        if missing:
            raise PreflightError(f"alarm{'s' if len(missing) > 1 else ''} not found: "
                                 f"{', '.join(missing)}",
                                 hint="check the names (and the region) in checks.alarms")
        firing = [n for n in self.names if states[n] == ALARM]
        if firing and self.spec.already_firing == AlreadyFiring.BLOCK:
            raise PreflightError(
                f"alarm {', '.join(firing)} is already in ALARM before the release started",
                hint="fix it first, or set checks.already_firing: ignore to ship anyway "
                     "(e.g. to ship the fix for that alarm)")
        self.muted.update(firing)
        return CheckResult(True, states, muted=tuple(sorted(self.muted)))

    def evaluate(self, *, at_full: bool = False) -> CheckResult:
        states = self._states()
        for name in self.names:
            state = states.get(name)
            if state is None:
                return CheckResult(False, states, f"alarm {name} no longer exists")
            if name in self.muted:
                if state == OK:
                    self.muted.discard(name)
                continue
            if state == ALARM:
                return CheckResult(False, states, f"alarm {name} is in ALARM")
            if state == INSUFFICIENT and self.spec.insufficient_data == InsufficientData.FAIL:
                return CheckResult(False, states, f"alarm {name} is in INSUFFICIENT_DATA "
                                                  "(checks.insufficient_data: fail)")
        return CheckResult(True, states)
