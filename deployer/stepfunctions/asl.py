"""Small builders for Amazon States Language (JSONPath) documents: tasks with the
retries and catches every AWS call gets, record updates, and the error names the
definition raises itself.

Error names follow AWS: an `aws-sdk:` task fails with `<Service>.<Exception>`
(`Lambda.TooManyRequestsException`), an optimized integration with the names its
documentation lists (`DynamoDB.ProvisionedThroughputExceededException`).
"""

from __future__ import annotations

from typing import Any

State = dict[str, Any]

# Errors the definition raises itself (Fail states, SendTaskFailure from `abort`).
DRIFT = "deployer.Drift"
ABORTED = "deployer.Aborted"
CHECK_FAILED = "deployer.CheckFailed"
HOOK_FAILED = "deployer.HookFailed"
DEADLINE = "deployer.Deadline"
APPROVED = "deployer.GateClosed"     # ends a gate's alarm watch once the gate is answered
UNANSWERED = "deployer.GateTimedOut"  # the gate's timeout passed with no answer

# Throttling and server-side errors, per AWS service name (what `aws-sdk:` tasks and
# the optimized integrations report). Only these are retried: a validation error or a
# missing resource is not going to change, and goes to the rollback branch at once.
TRANSIENT: dict[str, list[str]] = {
    "lambda": ["Lambda.TooManyRequestsException", "Lambda.ServiceException",
               "Lambda.EC2ThrottledException", "Lambda.ResourceConflictException",
               "Lambda.SdkClientException", "Lambda.AWSLambdaException"],
    "cloudwatch": ["CloudWatch.ThrottlingException", "CloudWatch.LimitExceededException",
                   "CloudWatch.InternalServiceException", "CloudWatch.CloudWatchException"],
    "dynamodb": ["DynamoDB.ProvisionedThroughputExceededException",
                 "DynamoDB.ThrottlingException", "DynamoDB.RequestLimitExceeded",
                 "DynamoDB.InternalServerErrorException",
                 "DynamoDB.AmazonDynamoDBException",
                 "DynamoDb.ProvisionedThroughputExceededException",
                 "DynamoDb.ThrottlingException", "DynamoDb.RequestLimitExceededException",
                 "DynamoDb.InternalServerErrorException", "DynamoDb.DynamoDbException"],
    "elasticloadbalancingv2": ["ElasticLoadBalancingV2.ThrottlingException",
                               "ElasticLoadBalancingV2.ElasticLoadBalancingV2Exception"],
    "ecs": ["Ecs.ServerException", "Ecs.ThrottlingException", "Ecs.EcsException"],
    "autoscaling": ["AutoScaling.AutoScalingException",
                    "AutoScaling.ResourceContentionException"],
    "ssm": ["Ssm.ThrottlingException", "Ssm.InternalServerErrorException",
            "Ssm.SsmException"],
    "sns": ["SNS.ThrottledException", "SNS.InternalErrorException",
            "SNS.KMSThrottlingException", "SNS.AmazonSnsException"],
}


def retry(service: str) -> list[dict[str, Any]]:
    """Back off on throttling and 5xx: 1, 2, 4 … 32 s with full jitter (about a minute)."""
    return [{"ErrorEquals": TRANSIENT[service], "IntervalSeconds": 1, "BackoffRate": 2.0,
             "MaxAttempts": 6, "JitterStrategy": "FULL"}]


def catch(target: str, *errors: str) -> dict[str, Any]:
    return {"ErrorEquals": list(errors) or ["States.ALL"], "ResultPath": "$.error",
            "Next": target}


def sdk_task(service: str, action: str, parameters: dict[str, Any], *, next_state: str,
             on_error: str | None, result_path: str | None = None,
             result_selector: dict[str, Any] | None = None) -> State:
    """An `aws-sdk:` task; its result is dropped unless `result_path` keeps a trimmed
    `result_selector` of it (no raw AWS answer stays in the state)."""
    state: State = {
        "Type": "Task", "Resource": f"arn:aws:states:::aws-sdk:{service}:{action}",
        "Parameters": parameters, "ResultPath": result_path, "Retry": retry(service),
        "Next": next_state,
    }
    if result_selector is not None:
        state["ResultSelector"] = result_selector
    if on_error is not None:
        state["Catch"] = [catch(on_error)]
    return state


def update_record(table: str, update: str, values: dict[str, Any], *, next_state: str,
                  on_error: str | None) -> State:
    """One `dynamodb:updateItem` on the run's item; every update bumps `version` so an
    operator's compare-and-swap write never overwrites it unseen."""
    state: State = {
        "Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem",
        "Parameters": {
            "TableName": table,
            "Key": {"pk": {"S.$": "States.Format('run#{}', $.run.id)"}},
            "UpdateExpression": f"{update} ADD version :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}, **values},
        },
        "ResultPath": None, "Retry": retry("dynamodb"), "Next": next_state,
    }
    if on_error is not None:
        state["Catch"] = [catch(on_error)]
    return state


def event(phase: str | dict[str, Any], message: str, weight_path: str | None = None
          ) -> dict[str, Any]:
    """An event item for the record's `sf_events` list. `message` may be an intrinsic
    (`States.Format(...)`) or plain text; `phase` a literal or {"S.$": path}."""
    at = {"S.$": "$$.State.EnteredTime"}
    text = {"S.$": message} if message.startswith("States.") or message.startswith("$") \
        else {"S": message}
    weight = {"N.$": f"States.JsonToString({weight_path})"} if weight_path else {"NULL": True}
    return {"M": {"at": at, "phase": phase if isinstance(phase, dict) else {"S": phase},
                  "message": text, "weight": weight}}


APPEND_EVENT = "sf_events = list_append(if_not_exists(sf_events, :none), :event)"
NO_EVENTS: dict[str, Any] = {":none": {"L": []}}
