"""Lambda versions for a release: checking them, publishing the new one, and
provisioned concurrency (PC) on the new version, READY before it gets traffic.

PC goes on the new *version*, never on the split alias: an alias update that
changes PC and routing together is refused, and alias PC follows the weights.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError, WaiterError

from deployer.aws import AwsContext, error_code
from deployer.core.ports import Clock
from deployer.errors import NewVersionUnhealthy, PreflightError, TargetError
from deployer.logs import get_logger
from deployer.plan.model import LambdaTarget

PC_READY_WITHIN = 900.0  # plan seconds; PC allocation usually takes a few minutes
PC_POLL = 10.0


class LambdaVersions:
    def __init__(self, spec: LambdaTarget, aws: AwsContext, clock: Clock) -> None:
        self.spec = spec
        self.aws = aws
        self.clock = clock
        self.client = aws.client("lambda")
        self.provisioned: int | None = None
        self._configurations: dict[str, dict[str, Any]] = {}
        self.log = get_logger(function=spec.function)

    def state(self) -> dict[str, Any] | None:
        return None if self.provisioned is None else {"new_version": self.provisioned}

    def _configuration(self, qualifier: str) -> dict[str, Any]:
        # Published versions are immutable, so one read each is enough ($LATEST is not).
        if qualifier in self._configurations:
            return self._configurations[qualifier]
        try:
            config = dict(self.aws.call(self.client.get_function_configuration,
                                        FunctionName=self.spec.function, Qualifier=qualifier))
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                raise PreflightError(f"version {qualifier} of function {self.spec.function} "
                                     "does not exist") from None
            raise TargetError(f"cannot read {self.spec.function}:{qualifier}: {exc}") from exc
        if qualifier != "$LATEST":
            self._configurations[qualifier] = config
        return config

    def require_published(self, version: str) -> None:
        self._configuration(version)

    def require_compatible(self, stable: str, new: str) -> None:
        """Lambda refuses weighted routing between versions whose role or DLQ differ."""
        old, fresh = self._configuration(stable), self._configuration(new)
        for label, key in (("execution role", "Role"), ("dead-letter config", "DeadLetterConfig")):
            if (old.get(key) or None) != (fresh.get(key) or None):
                raise PreflightError(
                    f"versions {stable} and {new} of {self.spec.function} have different "
                    f"{label}s ({old.get(key)} vs {fresh.get(key)}); Lambda cannot split "
                    "traffic between them",
                    hint="ship with all_at_once, or publish the new version with the same "
                         f"{label}")

    # ------------------------------------------------------------ publishing

    def publish_new(self) -> str:
        function = self.spec.function
        code_sha: str | None = None
        if self.spec.code is not None:
            code = self.spec.code
            kwargs: dict[str, Any] = {"FunctionName": function}
            if code.image_uri:
                kwargs["ImageUri"] = code.image_uri
            else:
                kwargs.update(S3Bucket=code.s3_bucket, S3Key=code.s3_key)
                if code.s3_object_version:
                    kwargs["S3ObjectVersion"] = code.s3_object_version
            try:
                updated = self.aws.call(self.client.update_function_code, **kwargs)
            except ClientError as exc:
                raise TargetError(f"UpdateFunctionCode {function} failed: {exc}") from exc
            code_sha = updated.get("CodeSha256")
            self._wait("function_updated_v2", FunctionName=function)
        publish: dict[str, Any] = {"FunctionName": function,
                                   "Description": "published by deployer"}
        if code_sha:
            publish["CodeSha256"] = code_sha
        try:
            version = self.aws.call(self.client.publish_version, **publish)["Version"]
        except ClientError as exc:
            raise TargetError(f"PublishVersion {function} failed: {exc}") from exc
        self._wait("published_version_active", FunctionName=function, Qualifier=version)
        self.log.info("published", version=version)
        return version

    def _wait(self, name: str, **kwargs: Any) -> None:
        waiter = self.client.get_waiter(name)  # type: ignore[call-overload]
        try:
            self.aws.call(waiter.wait, **kwargs, WaiterConfig={"Delay": 2, "MaxAttempts": 150})
        except WaiterError as exc:
            raise TargetError(f"{self.spec.function} did not become ready ({name}): "
                              f"{exc}") from exc

    # ------------------------------------------------------------ provisioned concurrency

    def _pc_of(self, qualifier: str) -> dict[str, Any] | None:
        try:
            return dict(self.aws.call(self.client.get_provisioned_concurrency_config,
                                      FunctionName=self.spec.function, Qualifier=qualifier))
        except ClientError as exc:
            if error_code(exc) == "ProvisionedConcurrencyConfigNotFoundException":
                return None
            raise TargetError(f"cannot read provisioned concurrency of "
                              f"{self.spec.function}:{qualifier}: {exc}") from exc

    def provision(self, stable: str, new: str) -> None:
        wanted = self.spec.provisioned_concurrency
        if wanted == "none":
            return
        if wanted == "match":
            current = self._pc_of(stable)
            if current is None:
                self.log.info("pc_nothing_to_match", stable=stable)
                return
            amount = int(current["RequestedProvisionedConcurrentExecutions"])
        else:
            amount = int(wanted)
        try:
            self.aws.call(self.client.put_provisioned_concurrency_config,
                          FunctionName=self.spec.function, Qualifier=new,
                          ProvisionedConcurrentExecutions=amount)
        except ClientError as exc:
            raise TargetError(f"cannot give version {new} provisioned concurrency "
                              f"{amount}: {exc}") from exc
        self.provisioned = amount
        self._wait_until_ready(new)

    def _wait_until_ready(self, version: str) -> None:
        started = self.clock.now()
        while True:
            config = self._pc_of(version) or {}
            status = config.get("Status")
            if status == "READY":
                return
            if status == "FAILED":
                raise NewVersionUnhealthy(f"provisioned concurrency on version {version} "
                                          f"failed: {config.get('StatusReason', 'no reason')}")
            if self.clock.now() - started >= PC_READY_WITHIN:
                raise NewVersionUnhealthy(f"provisioned concurrency on version {version} was "
                                          f"not READY within {PC_READY_WITHIN:.0f}s "
                                          f"(status {status})")
            self.clock.sleep(PC_POLL)

    def retire(self, stable: str) -> None:
        """After success: the old version's own PC would otherwise be paid twice."""
        if self.spec.provisioned_concurrency != "none" and self._pc_of(stable) is not None:
            self._delete_pc(stable)

    def discard(self, new: str) -> None:
        if self.provisioned is not None:
            self._delete_pc(new)

    def _delete_pc(self, qualifier: str) -> None:
        try:
            self.aws.call(self.client.delete_provisioned_concurrency_config,
                          FunctionName=self.spec.function, Qualifier=qualifier)
        except ClientError as exc:
            self.log.warning("pc_delete_failed", qualifier=qualifier, error=str(exc))
