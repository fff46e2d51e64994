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
SUGGEST_FROM_AT_MOST = 5000  # alarms listed to suggest a physical name for a logical id
ALARM, OK, INSUFFICIENT = "ALARM", "OK", "INSUFFICIENT_DATA"


class CloudWatchAlarms:
    def __init__(self, spec: ChecksSpec, aws: AwsContext,
                 muted: Sequence[str] = (), names: Sequence[str] | None = None,
                 where: str = "") -> None:
        # `names`: the run's alarms and every target's own (SPEC §8), else the plan's.
        # `where`: for alarms outside the plan's region and account (SPEC §13), what
        # follows each name wherever it is shown (" @ eu-west-1"), so that two regions'
        # alarms of one name stay apart in the record.
        self.names = list(spec.alarms if names is None else names)
        self.where = where
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
                states[alarm["AlarmName"] + self.where] = alarm["StateValue"]
        return states

    def _shown(self, names: Sequence[str]) -> list[str]:
        return [name + self.where for name in names]

    def start(self) -> CheckResult:
        try:
            states = self._states()
        except CheckFailed as exc:
            raise PreflightError(str(exc)) from None
        missing = [n for n in self.names if n + self.where not in states]
        if missing:
            meant = self._physical_names(missing)
            if meant:
                guesses = "; ".join(f"{name} -> {', '.join(found)}"
                                    for name, found in meant.items())
                hint = ("a CloudFormation logical id is not an alarm name: did you mean "
                        f"{guesses}? (write the physical name, or give the alarm an AlarmName)")
            else:
                hint = "check the names (and the region) in checks.alarms"
            raise PreflightError(f"alarm{'s' if len(missing) > 1 else ''} not found: "
                                 f"{', '.join(self._shown(missing))}", hint=hint)
        firing = [n for n in self._shown(self.names) if states[n] == ALARM]
        if firing and self.spec.already_firing == AlreadyFiring.BLOCK:
            raise PreflightError(
                f"alarm {', '.join(firing)} is already in ALARM before the release started",
                hint="fix it first, or set checks.already_firing: ignore to ship anyway "
                     "(e.g. to ship the fix for that alarm)")
        self.muted.update(firing)
        return CheckResult(True, states, muted=tuple(sorted(self.muted)))

    def _physical_names(self, missing: Sequence[str]) -> dict[str, list[str]]:
        """For names that look like CloudFormation logical ids (SAM and the Serverless
        plugin write those): the existing alarms whose physical name
        `<stack>-<LogicalId>-<suffix>` contains them. Best effort, on the error path only:
        an unreadable list suggests nothing."""
        assert self.client is not None
        found: dict[str, list[str]] = {}
        try:
            pages = self.client.get_paginator("describe_alarms").paginate(
                AlarmTypes=["CompositeAlarm", "MetricAlarm"],
                PaginationConfig={"MaxItems": SUGGEST_FROM_AT_MOST})
            for page in pages:
                for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                    physical = str(alarm["AlarmName"])
                    for name in missing:
                        if f"-{name}-" in physical or physical.endswith(f"-{name}"):
                            found.setdefault(name, []).append(physical)
        except ClientError:
            return {}
        return {name: sorted(names)[:3] for name, names in found.items()}

    def evaluate(self, *, at_full: bool = False) -> CheckResult:
        states = self._states()
        for name in self._shown(self.names):
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
