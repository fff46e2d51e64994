"""Scalar types of the plan format: durations, weights, names — each one error message."""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from deployer.plan.durations import PATTERN as DURATION_PATTERN
from deployer.plan.durations import parse_duration


def _seconds(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s or 5m, not a boolean")
    if isinstance(value, int | float):
        if value < 0 or math.isnan(value) or math.isinf(value):
            raise ValueError("a duration cannot be negative")
        return float(value)
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError("expected a duration such as 500ms, 30s, 5m, 2h, 1d or 1h30m")


def _weight(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("expected a percentage of traffic, a number above 0 and at most 100")
    try:
        number = float(str(value).strip().rstrip("%"))
    except ValueError:
        raise ValueError(f"{value!r} is not a percentage; write e.g. 10 or 12.5") from None
    if not 0 < number <= 100:
        raise ValueError(f"weight {value} is out of range: it must be above 0 and at most 100")
    if round(number, 1) != number:
        raise ValueError(f"weight {value} has more than one decimal place")
    return number


def _percent(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("expected a percentage such as 2% or 0.5%")
    text = str(value).strip()
    try:
        number = float(text.removesuffix("%"))
    except ValueError:
        raise ValueError(f"{value!r} is not a percentage; write e.g. 2% or 0.5%") from None
    if not 0 <= number <= 100 or math.isnan(number):
        raise ValueError(f"{value} is out of range: a rate is between 0% and 100%")
    return number


def _ratio(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("expected a ratio to the stable version such as 2x or 1.5x")
    text = str(value).strip().lower()
    try:
        number = float(text.removesuffix("x"))
    except ValueError:
        raise ValueError(f"{value!r} is not a ratio; write e.g. 2x or 1.5x") from None
    if not number >= 1 or math.isinf(number):
        raise ValueError(f"{value} is below 1x: the new version would fail for being as good "
                         "as the stable one")
    return number


def _argv(value: Any) -> Any:
    return shlex.split(value) if isinstance(value, str) else value


def _not_a_version_number(value: str) -> str:
    if value.isdigit():
        raise ValueError("an alias name cannot be all digits (that is a version number)")
    return value


def _digits(value: str) -> str:
    if not value.isdigit():
        raise ValueError(f"{value!r} is not a published version number such as \"42\"")
    return value


def _version(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip().upper() == "$LATEST":
        raise ValueError("$LATEST cannot receive weighted traffic; give a published version "
                         "number, or use publish: true")
    return value


Duration = Annotated[
    float,
    BeforeValidator(_seconds),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": DURATION_PATTERN},
                {"type": "number", "minimum": 0},
            ],
            "description": "500ms, 30s, 5m, 2h, 1d, 1h30m (a bare number is seconds)",
        }
    ),
]

Weight = Annotated[
    float,
    BeforeValidator(_weight),
    WithJsonSchema(
        {"type": "number", "exclusiveMinimum": 0, "maximum": 100,
         "description": "percent of traffic on the new version"}
    ),
]

Percent = Annotated[
    float,
    BeforeValidator(_percent),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?%$"},
                              {"type": "number", "minimum": 0, "maximum": 100}],
                    "description": "a rate in percent, e.g. 2% or 0.5%"}),
]

Ratio = Annotated[
    float,
    BeforeValidator(_ratio),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?[xX]$"},
                              {"type": "number", "minimum": 1}],
                    "description": "a multiple of the stable version's value, e.g. 2x or 1.5x"}),
]

Argv = Annotated[
    list[Annotated[str, Field(min_length=1)]],
    BeforeValidator(_argv),
    Field(min_length=1),
    WithJsonSchema(
        {"anyOf": [{"type": "array", "items": {"type": "string"}, "minItems": 1},
                   {"type": "string", "minLength": 1}]}
    ),
]

LambdaVersion = Annotated[
    str,
    BeforeValidator(_version),
    AfterValidator(_digits),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": r"^[0-9]+$"},
                              {"type": "integer", "minimum": 1}]}),
]

@dataclass(frozen=True, slots=True)
class Matches:
    """Annotated marker: the string must match `pattern`; the error names `what` was expected.

    Pydantic's own `pattern=` gives "String should match pattern '^...$'", which tells a
    user nothing; this keeps the pattern in the JSON Schema and says it in words.
    """

    pattern: str
    what: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def check(value: str) -> str:
            # re caches compiled patterns; compiling on first use keeps start-up lean.
            if not re.fullmatch(self.pattern, value):
                raise ValueError(f"{value!r} is not {self.what}")
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self.pattern
        return json_schema


_ARN = r"^arn:aws[a-z-]*:"
_ACCOUNT = r":[a-z0-9-]+:\d{12}:"

PlanName = Annotated[str, Matches(r"^[a-z0-9-]{1,64}$", "a valid name (1-64 of a-z, 0-9, -)")]
Region = Annotated[str, Matches(r"^[a-z]{2}(-[a-z]+)+-\d+$", "a region name like eu-west-1")]
LambdaFunction = Annotated[
    str,
    Matches(r"^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?[A-Za-z0-9_-]{1,64}$",
            "a Lambda function name or unqualified function ARN"),
]
AliasName = Annotated[
    str,
    Matches(r"^[A-Za-z0-9_-]{1,128}$", "a valid alias name"),
    AfterValidator(_not_a_version_number),
]
AlarmName = Annotated[str, Field(min_length=1, max_length=255)]
RoleArn = Annotated[
    str, Matches(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$",
                 "an IAM role ARN like arn:aws:iam::222233334444:role/deployer-target")
]
ExternalId = Annotated[
    str, Matches(r"^[\w+=,.@:/-]{2,1224}$",
                 "an external id (2-1224 of letters, digits and +=,.@:/-)")
]
AutoScalingGroupName = Annotated[
    str, Matches(r"^[^:]{1,255}$", "an Auto Scaling group name (1-255 characters, no ':')")]
LaunchTemplateId = Annotated[str, Matches(r"^lt-[0-9a-f]{8,17}$",
                                          "a launch template id like lt-0abcd1234ef567890")]
LaunchTemplateVersion = Annotated[str, BeforeValidator(
    lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v), Matches(
    r"^(\$Latest|\$Default|[1-9][0-9]*)$", "a launch template version: a number, $Latest "
    "or $Default")]
HostedZoneId = Annotated[str, Matches(r"^(/hostedzone/)?[A-Z0-9]{1,32}$",
                                      "a hosted zone id like Z0123456789ABC")]
DnsName = Annotated[str, Matches(
    r"^(\*\.)?([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_-]{1,63}\.?$",
    "a DNS name like api.example.com")]
SetIdentifier = Annotated[str, Matches(r"^.{1,128}$",
                                       "a record's SetIdentifier (1-128 characters)")]
CalendarName = Annotated[
    str, Matches(r"^(arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:document/)?[a-zA-Z0-9_.-]{3,128}$",
                 "an SSM Change Calendar name (3-128 of letters, digits and _.-) or ARN")
]
ListenerArn = Annotated[
    str, Matches(_ARN + "elasticloadbalancing" + _ACCOUNT + "listener/.+$", "a listener ARN")
]
RuleArn = Annotated[
    str,
    Matches(_ARN + "elasticloadbalancing" + _ACCOUNT + "listener-rule/.+$",
            "a listener rule ARN"),
]
TopicArn = Annotated[
    str, Matches(_ARN + "sns" + _ACCOUNT + r"[A-Za-z0-9_.-]+$", "an SNS topic ARN")
]
HttpUrl = Annotated[str, Matches(r"^https?://\S+$", "an http:// or https:// URL")]


def _at_least_one_second(value: float) -> float:
    if value < 1:
        raise ValueError("must be at least 1s")
    return value


PollInterval = Annotated[Duration, AfterValidator(_at_least_one_second)]
