"""A moto server that executes state machines, with its interpreter patched where it
differs from AWS (MOTO-NOTES "Step Functions interpreter vs AWS"). The definitions
deployer writes are correct for AWS; each patch below makes moto behave as AWS does,
in this test process (which hosts the server):

1. `aws-sdk:elasticloadbalancingv2:*` is AWS's service name; moto knows only boto3's
   `elbv2`.
2. `aws-sdk:` parameters are PascalCase on AWS (`Cluster`, `DesiredCount`); moto
   passes them to boto3 as they are, which ECS (camelCase) rejects. They are mapped
   through the operation's input shape, as moto already does for its optimized
   integrations.
3. Error names of `aws-sdk:` tasks are `Lambda.X`/`CloudWatch.X` on AWS; moto uses the
   lower-case boto3 name (`lambda.X`), so no Retry on AWS's names would ever match.
4. JSONPath: AWS (Jayway) returns a value for a definite path (`$.Listeners[0].
   DefaultActions`) and a list, possibly empty, for an indefinite one (`[*]`, `..`,
   filters); moto wraps the former in a list and fails the latter when nothing matches.
5. SendTaskFailure: moto's HTTP handler drops `cause`.
6. Timestamps: AWS compares RFC 3339 timestamps with fractions and offsets (its own
   `$$.State.EnteredTime` is `2026-11-28T12:56:13.126Z`); moto parses only
   `%Y-%m-%dT%H:%M:%SZ`, so no Timestamp* rule on EnteredTime ever matches there.
7. JSONata: moto parses `QueryLanguage: JSONata` states and `{% %}` expressions but its
   evaluator is a stub; jsonata-python (pure Python) is plugged in. It may accept
   JSONata 2.1 syntax that Step Functions (2.0.6) rejects, so every expression the
   compiler writes is also linted for it (tests/test_stepfunctions_compiler.py).
8. JSONata `$states`: moto binds only the `$states.…` paths it finds in the expression
   by a regular expression, which reads the text between two division operators
   (`$a / $b … $c / $d`) as a regex literal and skips the references inside, so a
   `$states.input` there is left unbound; AWS parses the expression. Regex literals
   are dropped from that scan (deployer's expressions have none).
9. A Task's `Credentials` (`RoleArn`): moto parses it but makes every call with its own
   fixed keys, in its default account; AWS makes the call as that role, in its account.
   The role is assumed at the server (which maps assumed-role credentials to the role's
   account) and the call made with its credentials.

Not patched, because the definition does not depend on it: a Parallel or Map branch
that fails with a `States.*` error (a task's States.Timeout) ends a moto execution
with States.Runtime ("Custom Error Names MUST NOT begin with 'States.'"), where AWS
hands the error to the state's Catch. The gate re-raises its timeout under a name of
its own inside the branch.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_INDEFINITE = re.compile(r"\[\*\]|\.\.|\[\?|\[-?\d*:-?\d*\]|\[[^\]]*,[^\]]*\]")
_PATCHED: set[str] = set()


def patch_interpreter() -> None:
    if _PATCHED:
        return
    _PATCHED.add("done")
    _service_names()
    _jsonpath()
    _send_task_failure_cause()
    _timestamps()
    _jsonata()
    _credentials()


def _credentials() -> None:
    import boto3
    from botocore.config import Config
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as sdk,
    )
    from moto.stepfunctions.parser.asl.utils import boto_client as module

    original = module.boto_client_for

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        role = getattr(state_credentials, "role_arn", None)
        if not role:
            return original(region, service, state_credentials)
        sts = original(region, "sts")
        found = sts.assume_role(RoleArn=role, RoleSessionName="states")["Credentials"]
        return boto3.client(  # type: ignore[call-overload]
            service, region_name=region,
            endpoint_url=f"http://localhost:{os.environ['MOTO_PORT']}",
            aws_access_key_id=found["AccessKeyId"],
            aws_secret_access_key=found["SecretAccessKey"],
            aws_session_token=found["SessionToken"],
            config=Config(parameter_validation=False, retries={"total_max_attempts": 1}))

    module.boto_client_for = boto_client_for
    sdk.boto_client_for = boto_client_for  # type: ignore[attr-defined]


def _jsonata() -> None:
    import jsonata
    from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata

    def evaluate(expression: str) -> Any:
        # moto composes `($states := {...}; expression)` and evaluates it with no input.
        return jsonata.Jsonata(expression).evaluate(None)

    moto_jsonata._eval_jsonata = evaluate
    # 8: string literals and references only; no `/regex/` branch.
    moto_jsonata._PATTERN_VARIABLE_REFERENCE = re.compile(  # type: ignore[attr-defined]
        r"(?:\"(?:\\.|[^\"\\])*\"|\'(?:\\.|[^\'\\])*\')"
        r"|(\$\$|\$[A-Za-z0-9_$]+(?:\.[A-Za-z0-9_][A-Za-z0-9_$]*)*|\$)")


def _service_names() -> None:
    import botocore.session
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as sdk,
    )

    service = sdk.StateTaskServiceAwsSdk
    service._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES = {  # type: ignore[misc]
        **service._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES, "elasticloadbalancingv2": "elbv2"}
    sdk._SERVICE_ERROR_NAMES.update({  # type: ignore[attr-defined]
        "lambda": "Lambda", "cloudwatch": "CloudWatch", "ecs": "Ecs",
        "elasticloadbalancingv2": "ElasticLoadBalancingV2"})
    session = botocore.session.get_session()

    def normalise(self: Any, parameters: dict[str, Any], boto_service_name: str | None = None,
                  service_action_name: str | None = None) -> None:
        model = session.get_service_model(self._get_boto_service_name())
        action = self.resource.api_action
        operation = model.operation_model(action[0].upper() + action[1:])
        self._to_boto_request(parameters, operation.input_shape)

    service._normalise_parameters = normalise  # type: ignore[method-assign]


def _jsonpath() -> None:
    from jsonpath_ng.ext import parse
    from moto.stepfunctions.parser.asl.utils import json_path

    original = json_path.extract_json

    def extract_json(path: str, data: Any) -> Any:
        matches = parse(path).find(data)
        if _INDEFINITE.search(path):
            return [match.value for match in matches]
        if not matches:
            raise json_path.NoSuchJsonPathError(json_path=path, data=data)
        return matches[0].value

    for module in list(sys.modules.values()):
        if getattr(module, "extract_json", None) is original:
            module.extract_json = extract_json  # type: ignore[attr-defined]


def _send_task_failure_cause() -> None:
    from moto.stepfunctions import responses

    handler = responses.StepFunctionResponse

    def send_task_failure(self: Any) -> Any:
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"),
            cause=self._get_param("cause"))
        return responses.EmptyResult()

    handler.send_task_failure = send_task_failure  # type: ignore[method-assign]


def _timestamps() -> None:
    import datetime

    from moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.is_operator import (  # noqa: E501
        IsTimestamp,
    )

    def string_to_timestamp(string: str) -> datetime.datetime | None:
        try:
            moment = datetime.datetime.fromisoformat(string.replace("Z", "+00:00"))
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None or "T" not in string:
            return None  # RFC 3339: a "T", and "Z" or a numeric offset
        return moment

    IsTimestamp.string_to_timestamp = staticmethod(string_to_timestamp)  # type: ignore[method-assign]


@contextmanager
def machine_aws() -> Iterator[str]:
    """A local AWS whose state machines run: MOTO_PORT names the server's own port
    (the interpreter's tasks call back to localhost:$MOTO_PORT)."""
    from deployer.demo.server import configure, local_aws

    patch_interpreter()
    # The interpreter logs every error it handles (a Choice's IsPresent on a missing
    # path, a Catch taken): expected here, and not news.
    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
    saved = os.environ.get("MOTO_PORT")
    with local_aws() as endpoint:
        os.environ["MOTO_PORT"] = endpoint.rsplit(":", 1)[1]
        configure(endpoint, {"stepfunctions": {"execute_state_machine": True}})
        try:
            yield endpoint
        finally:
            if saved is None:
                os.environ.pop("MOTO_PORT", None)
            else:
                os.environ["MOTO_PORT"] = saved
