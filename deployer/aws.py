"""AWS access: one boto3 session, clients created once, and the one retry wrapper
that every AWS call goes through.

botocore's "standard" retry mode handles the first retries inside a call;
`AwsContext.call` adds tenacity on top: jittered exponential backoff on
throttling, 5xx and connection errors, bounded by attempts and time, so a run's
outcome with transient AWS errors is the same as without them.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from deployer.errors import PreflightError, TargetError, UsageError
from deployer.logs import get_logger

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_ssm import SSMClient

T = TypeVar("T")

THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException",
    "RequestLimitExceeded", "RequestThrottled", "RequestThrottledException",
    "ProvisionedThroughputExceededException", "SlowDown", "PriorRequestNotComplete",
    "EC2ThrottledException", "TransactionInProgressException",
})
TRANSIENT_CODES = frozenset({
    "InternalError", "InternalFailure", "InternalServerError", "ServiceUnavailable",
    "ServiceUnavailableException", "ServiceException", "RequestTimeout",
    "RequestTimeoutException", "EC2UnexpectedException", "ResourceConflictException",
})
CONNECTION_ERRORS = (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError,
                     ConnectTimeoutError)


def is_transient(exc: BaseException) -> bool:
    """Throttling, a 5xx, or a dropped/timed-out connection: worth another try."""
    if isinstance(exc, CONNECTION_ERRORS):
        return True
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return (code in THROTTLING_CODES or code in TRANSIENT_CODES or status == 429
                or status >= 500)
    return False


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class AwsContext:
    """Session, clients and the retry wrapper for one process."""

    def __init__(
        self,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        *,
        max_attempts: int = 8,
        max_seconds: float = 120.0,
        sleep: Callable[[float], None] | None = None,
        botocore_attempts: int = 3,
    ) -> None:
        region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        try:
            self.session = boto3.Session(region_name=region, profile_name=profile)
        except ProfileNotFound as exc:
            raise UsageError(str(exc)) from None
        if not self.session.region_name:
            raise UsageError("no AWS region: set region in the plan, pass --region, or set "
                             "AWS_REGION")
        self.endpoint_url = endpoint_url
        self.profile = profile
        # What an assumed role's session is named (CloudTrail shows it): the run id,
        # set by the composition root once the run has one.
        self.session_name = "deployer"
        self._places: dict[tuple[str | None, str | None, str | None], AwsContext] = {}
        self._account: str | None = None
        self._role_account: str | None = None
        self.max_attempts = max_attempts
        self.max_seconds = max_seconds
        self._sleep = sleep
        self._clients: dict[str, Any] = {}
        # max_pool_connections: a whole application writes its targets from a pool of
        # threads (engine/fleet.py) through one client per service.
        self._config = Config(retries={"mode": "standard", "total_max_attempts": botocore_attempts},
                              connect_timeout=5, read_timeout=30, max_pool_connections=32)
        self.log = get_logger()

    def with_budget(self, attempts: int, seconds: float) -> AwsContext:
        """The same session and clients with a smaller retry budget."""
        clone = copy.copy(self)
        clone.max_attempts, clone.max_seconds = attempts, seconds
        return clone

    @property
    def region(self) -> str | None:
        return self.session.region_name

    @property
    def account(self) -> str:
        """The account these credentials act in (sts:GetCallerIdentity, asked once)."""
        if self._account is None:
            try:
                identity = self.call(self.client("sts").get_caller_identity)
            except ClientError as exc:
                raise TargetError(f"cannot tell which AWS account this is: {exc}") from exc
            self._account = str(identity["Account"])
        return self._account

    @property
    def where(self) -> dict[str, str]:
        """For a target's record: its region, and its account when deployer reaches it
        through a role (another account than the runner's, as a rule)."""
        shown = {"region": self.region or "-"}
        if self._role_account is not None:
            shown["account"] = self._role_account
        return shown

    def place(self, region: str | None, role_arn: str | None = None,
              external_id: str | None = None) -> AwsContext:
        """The context for a target in `region` and, with `role_arn`, in the role's
        account (SPEC §13); one per place, its clients shared by every target there.
        The role is assumed when first used, with this context's credentials, and its
        credentials are renewed before they expire (botocore refreshes them 15 minutes
        ahead), however long the run."""
        region = region or self.region
        if region == self.region and role_arn is None:
            return self
        key = (region, role_arn, external_id)
        if key not in self._places:
            self._places[key] = self._placed(region, role_arn, external_id)
        return self._places[key]

    def _placed(self, region: str | None, role_arn: str | None,
                external_id: str | None) -> AwsContext:
        import botocore.session

        clone = copy.copy(self)
        clone._clients, clone._places, clone._account, clone._role_account = {}, {}, None, None
        core = botocore.session.get_session()
        # The service models this process has read already: every place shares them.
        core.register_component("data_loader",
                                self.session._session.get_component("data_loader"))
        if role_arn is None:
            core._credentials = self.session._session.get_credentials()  # type: ignore[attr-defined]
            clone.session = boto3.Session(botocore_session=core, region_name=region)
            return clone
        from botocore.credentials import DeferredRefreshableCredentials

        core._credentials = DeferredRefreshableCredentials(  # type: ignore[attr-defined]
            refresh_using=self._assumer(role_arn, external_id), method="sts-assume-role")
        clone.session = boto3.Session(botocore_session=core, region_name=region)
        clone._account = clone._role_account = role_arn.split(":")[4]
        return clone

    def _assumer(self, role_arn: str, external_id: str | None) -> Callable[[], dict[str, str]]:
        """sts:AssumeRole as botocore's refresh callback. The first failure refuses the
        run (nothing has changed yet); a failed renewal later is a target error."""
        assumed: list[bool] = []

        def assume() -> dict[str, str]:
            kwargs = {"RoleArn": role_arn, "RoleSessionName": _session_name(self.session_name)}
            if external_id:
                kwargs["ExternalId"] = external_id
            try:
                answer = self.call(self.client("sts").assume_role, **kwargs)["Credentials"]
            except ClientError as exc:
                message = f"cannot assume {role_arn}: {error_code(exc)}: " \
                    f"{exc.response.get('Error', {}).get('Message', '')}".rstrip(": ")
                hint = ("the role's trust policy must allow this caller (deployer "
                        "iam-policy PLAN prints it)")
                if assumed:
                    raise TargetError(f"{message} (renewing its credentials)",
                                      hint=hint) from None
                raise PreflightError(message, hint=hint) from None
            assumed.append(True)
            return {"access_key": answer["AccessKeyId"], "secret_key": answer["SecretAccessKey"],
                    "token": answer["SessionToken"],
                    "expiry_time": answer["Expiration"].isoformat()}

        return assume

    @overload
    def client(self, service: Literal["lambda"]) -> LambdaClient: ...
    @overload
    def client(self, service: Literal["cloudwatch"]) -> CloudWatchClient: ...
    @overload
    def client(self, service: Literal["dynamodb"]) -> DynamoDBClient: ...
    @overload
    def client(self, service: Literal["ecs"]) -> ECSClient: ...
    @overload
    def client(self, service: Literal["elbv2"]) -> ElasticLoadBalancingv2Client: ...
    @overload
    def client(self, service: Literal["ssm"]) -> SSMClient: ...
    @overload
    def client(self, service: str) -> Any: ...

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(
                service, endpoint_url=self.endpoint_url, config=self._config  # type: ignore[call-overload]
            )
        return self._clients[service]

    def call(self, operation: Callable[..., T], /, **kwargs: Any) -> T:
        """Call one AWS operation with jittered exponential backoff on transient errors."""
        extra: dict[str, Any] = {}
        if self._sleep is not None:
            extra["sleep"] = self._sleep
        retrying = Retrying(
            retry=retry_if_exception(is_transient),
            wait=wait_random_exponential(multiplier=0.2, max=10),
            stop=stop_after_attempt(self.max_attempts) | stop_after_delay(self.max_seconds),
            before_sleep=self._log_retry,
            reraise=True,
            **extra,
        )
        try:
            return retrying(operation, **kwargs)
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise TargetError(f"no usable AWS credentials: {exc}") from None
        except CONNECTION_ERRORS as exc:
            raise TargetError(f"cannot reach AWS after {self.max_attempts} attempts: "
                              f"{exc}") from exc

    def _log_retry(self, state: RetryCallState) -> None:
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        self.log.info("aws_retry", operation=getattr(state.fn, "__name__", "?"),
                      attempt=state.attempt_number, error=str(exc)[:200])


def _session_name(name: str) -> str:
    """A role session name AWS takes: 2-64 letters, digits and +=,.@-."""
    cleaned = re.sub(r"[^\w+=,.@-]", "-", name)[:64]
    return cleaned if len(cleaned) >= 2 else "deployer"


def caller_arn(region: str | None, profile: str | None, endpoint_url: str | None) -> str | None:
    """The caller's AWS identity (STS), or None when there is none to be had quickly."""
    try:
        session = boto3.Session(region_name=region or os.environ.get("AWS_REGION")
                                or "us-east-1", profile_name=profile)
        if session.get_credentials() is None:
            return None
        sts = session.client("sts", endpoint_url=endpoint_url, config=Config(
            retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=3))
        return str(sts.get_caller_identity()["Arn"])
    except Exception:  # identity is a nicety for the audit trail, never a failure
        return None
