"""Build AWS resources for a rollout on any endpoint (a local moto server in practice)."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

ROLE_POLICY = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
               '"Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}')


def client(service: str, endpoint: str, region: str, role_arn: str | None = None) -> Any:
    """A client of the local AWS; with `role_arn`, in that role's account (the local AWS
    maps assumed-role credentials to the role's account)."""
    keys: dict[str, str] = {}
    if role_arn is not None:
        sts = boto3.client("sts", endpoint_url=endpoint, region_name=region)
        found = sts.assume_role(RoleArn=role_arn, RoleSessionName="world")["Credentials"]
        keys = {"aws_access_key_id": found["AccessKeyId"],
                "aws_secret_access_key": found["SecretAccessKey"],
                "aws_session_token": found["SessionToken"]}
    return boto3.client(service, endpoint_url=endpoint, region_name=region,  # type: ignore[call-overload]
                        config=Config(retries={"total_max_attempts": 1}), **keys)


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", source)
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class LambdaWorld:
    endpoint: str
    region: str
    function: str
    alias: str
    stable: str
    new: str
    alarms: tuple[str, ...]
    role_arn: str | None = None  # in another account: the role that reaches it

    def set_alarm(self, name: str, state: str) -> None:
        client("cloudwatch", self.endpoint, self.region, self.role_arn).set_alarm_state(
            AlarmName=name, StateValue=state, StateReason="set by the demo/test")

    def alias_state(self) -> tuple[str, dict[str, float]]:
        alias = client("lambda", self.endpoint, self.region, self.role_arn).get_alias(
            FunctionName=self.function, Name=self.alias)
        weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        return alias["FunctionVersion"], dict(weights)


def create_lambda_world(endpoint: str, region: str = "us-east-1", function: str = "checkout",
                        alias: str = "live", alarms: tuple[str, ...] = ("checkout-errors",),
                        versions: int = 2, role_arn: str | None = None) -> LambdaWorld:
    """A function with `versions` published versions, an alias on version 1, and alarms
    (OK); with `role_arn`, in that role's account."""
    iam = client("iam", endpoint, region, role_arn)
    try:
        role = iam.create_role(RoleName=f"{function}-role",
                               AssumeRolePolicyDocument=ROLE_POLICY)["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:  # IAM is global: another region's
        role = iam.get_role(RoleName=f"{function}-role")["Role"]["Arn"]
    lam = client("lambda", endpoint, region, role_arn)
    lam.create_function(FunctionName=function, Runtime="python3.12", Role=role,
                        Handler="handler.main", Code={"ZipFile": _zip("def main(e, c): return 1")})
    published = []
    for number in range(versions):
        lam.update_function_code(FunctionName=function,
                                 ZipFile=_zip(f"def main(e, c): return {number}"))
        published.append(lam.publish_version(FunctionName=function)["Version"])
    lam.create_alias(FunctionName=function, Name=alias, FunctionVersion=published[0])
    cloudwatch = client("cloudwatch", endpoint, region, role_arn)
    for name in alarms:
        cloudwatch.put_metric_alarm(
            AlarmName=name, Namespace="AWS/Lambda", MetricName="Errors", Statistic="Sum",
            Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
            Dimensions=[{"Name": "FunctionName", "Value": function}])
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="initial")
    return LambdaWorld(endpoint, region, function, alias, published[0], published[-1], alarms,
                       role_arn)
