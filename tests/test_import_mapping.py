"""The importers' mapping tables, value by value: deployment types and configs to
strategies, logical ids to plan names, Serverless variables, CloudFormation values."""

from __future__ import annotations

from typing import Any

import pytest

from deployer.importers.draft import Draft
from deployer.importers.lambda_release import plan_name, routing_strategy, strategy_of
from deployer.importers.resolve import Resolver, env_name, literal
from deployer.importers.serverless import Variables


def draft() -> Draft:
    return Draft("x", "t.yaml", {})


@pytest.mark.parametrize(("kind", "strategy"), [
    ("Canary10Percent5Minutes", {"preset": "LambdaCanary10Percent5Minutes"}),
    ("CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
     {"preset": "LambdaLinear10PercentEvery1Minute"}),
    ("AllAtOnce", {"preset": "LambdaAllAtOnce"}),
    ("Canary15Percent7Minutes", {"canary": {"weight": 15, "bake": "7m"}}),
    ("Linear20PercentEvery3Minutes", {"linear": {"step": 20, "every": "3m"}}),
    ("Canary0Percent5Minutes", {"canary": {"weight": 10, "bake": "5m"}}),  # stand-in
    ("Blue", {"canary": {"weight": 10, "bake": "5m"}}),
])
def test_deployment_types(kind: str, strategy: dict[str, Any]) -> None:
    written = draft()
    assert strategy_of(written, kind, "strategy", 1) == strategy
    assert bool(written.warnings) == ("weight" in str(strategy) and "15" not in str(strategy))


@pytest.mark.parametrize(("routing", "strategy"), [
    ({"Type": "TimeBasedCanary", "TimeBasedCanary": {"CanaryPercentage": 5,
                                                     "CanaryInterval": 30}},
     {"canary": {"weight": 5, "bake": "30m"}}),
    ({"Type": "TimeBasedLinear", "TimeBasedLinear": {"LinearPercentage": "25",
                                                     "LinearInterval": "2"}},
     {"linear": {"step": 25, "every": "2m"}}),
    ({"Type": "AllAtOnce"}, {"all_at_once": {}}),
    ({"Type": "TimeBasedCanary", "TimeBasedCanary": {"CanaryPercentage": 500}},
     {"canary": {"weight": 10, "bake": "5m"}}),
])
def test_custom_deployment_configs(routing: dict[str, Any], strategy: dict[str, Any]) -> None:
    assert routing_strategy(draft(), {"TrafficRoutingConfig": routing}, "C", 1) == strategy


@pytest.mark.parametrize(("logical", "name"), [
    ("ApiHandler5E7490E8", "api-handler"),          # the CDK's hash suffix dropped
    ("HelloWorldFunction", "hello-world-function"),
    ("hello_world", "hello-world"),
    ("preHook", "pre-hook"),
    ("!!!", "imported"),
    ("A" * 100, "a" * 64),
])
def test_plan_names(logical: str, name: str) -> None:
    assert plan_name(logical) == name


def test_variable_names_and_literals() -> None:
    assert env_name("hello-world") == "HELLO_WORLD"
    assert env_name("1st") == "V_1ST"
    assert env_name("") == "VALUE"
    assert literal("cost$5 ${X}") == "cost$$5 $${X}"


@pytest.mark.parametrize(("value", "stage", "expected", "unresolved"), [
    ("${sls:stage}", None, "dev", 0),
    ("${opt:stage}", "prod", "prod", 0),
    ("${opt:stage}", None, "${V}", 1),                    # not set without --stage
    ("${opt:stage, 'qa'}", None, "qa", 0),
    ("${self:custom.name}-${sls:stage}", "prod", "svc-prod", 0),
    ("${self:custom.nested}", None, "svc-dev", 0),        # a variable in the value read
    ("${env:X, self:custom.name}", None, "svc", 0),
    ("${ssm:/a/b}", None, "${V}", 1),
    ("${opt:stage, ${self:custom.name}}", None, "svc", 0),
    ("a$b", None, "a$$b", 0),
])
def test_serverless_variables(value: str, stage: str | None, expected: str,
                              unresolved: int) -> None:
    document = {"provider": {"stage": "${opt:stage, 'dev'}"},
                "custom": {"name": "svc", "nested": "${self:custom.name}-${sls:stage}"}}
    names = Variables(document, stage)
    assert names.text(value, "V") == expected
    assert len(names.unresolved) == unresolved


def test_cloudformation_values() -> None:
    template = {"Parameters": {"Stage": {"Type": "String", "Default": "prod"}},
                "Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {}},
                              "Named": {"Type": "AWS::Lambda::Function",
                                        "Properties": {"FunctionName": "named"}}}}
    written = draft()
    resolve = Resolver(template, written)
    assert resolve.text({"Fn::Sub": "api-${Stage}"}, "p", 1, "V") == "api-prod"
    assert resolve.text({"Fn::Sub": ["${A}-${B}", {"A": "x", "B": {"Ref": "Stage"}}]},
                        "p", 1, "V") == "x-prod"
    assert resolve.text({"Fn::Sub": "${AWS::Region}-x"}, "p", 1, "V") == "${REGION}-x"
    assert resolve.function_name({"Ref": "Named"}, "p", 1, "V") == "named"
    assert resolve.function_name({"Fn::GetAtt": ["Named", "Arn"]}, "p", 1, "V") == "named"
    assert resolve.function_name({"Ref": "Fn"}, "p", 1, "V", unnamed="placeholder") == "${V}"
    assert resolve.function_name({"Ref": "Fn"}, "p", 1, "V") == "Fn"
    assert resolve.text({"Fn::ImportValue": "x"}, "p", 1, "W") == "${W}"
    assert len(written.warnings) == 4
