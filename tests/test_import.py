"""`deployer import` (SPEC §10) through the real CLI on a small corpus written for the
tests (tests/import_corpus): SAM templates in YAML and JSON (Globals, conditions,
alarms and hooks defined in the template), a CodeDeploy ECS appspec and deployment
group; every plan written validates and gives a timeline, and one imported plan is
released on the moto server."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from deployer.demo.world import create_lambda_world
from tests.conftest import ROOT, run_cli
from tests.e2e import Cli, finish

CORPUS = ROOT / "tests" / "import_corpus"


def test_a_sam_application_becomes_a_plan_per_function(tmp_path: Path) -> None:
    result = run_cli("import", "sam", str(CORPUS / "sam-app.yaml"), "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in tmp_path.glob("*.yaml"))
    assert written == ["cart-function.yaml", "checkout-function.yaml"]
    checkout = (tmp_path / "checkout-function.yaml").read_text()
    assert '"checkout-prod"' in checkout                 # !Sub over a parameter default
    assert '"${NEW_VERSION}"' in checkout
    assert '"checkout-errors"' in checkout               # !Ref to an alarm -> its AlarmName
    assert '{"lambda": "checkout-smoke"}' in checkout    # !Ref to the hook function
    assert "# WARNING: PreTraffic hook checkout-smoke must return" in checkout
    warnings = result.stderr.splitlines()
    assert f"{CORPUS / 'sam-app.yaml'}:26: warning: !If on condition IsProd: the first " \
           "branch was taken" in warnings
    assert any(":30: warning: alarm CartErrors has no AlarmName" in w for w in warnings)
    for name in written:
        plan = str(tmp_path / name)
        env = {**os.environ, "NEW_VERSION": "7"}
        checked = run_cli("validate", plan, env=env)
        assert checked.returncode == 0, checked.stderr
        timeline = json.loads(run_cli("plan", plan, "--json", env=env).stdout)
        assert any(step["kind"] == "shift" for step in timeline["steps"])
    cart = json.loads(run_cli("plan", str(tmp_path / "cart-function.yaml"), "--json",
                              env={**os.environ, "NEW_VERSION": "7"}).stdout)
    assert cart["preset"] == "LambdaLinear10PercentEvery2Minutes"  # its own over Globals'


def test_combine_writes_one_application_plan(tmp_path: Path) -> None:
    result = run_cli("import", "sam", str(CORPUS / "sam-app.yaml"), "--out", str(tmp_path),
                     "--combine", "shop")
    assert result.returncode == 0, result.stderr
    plan = tmp_path / "shop.yaml"
    env = {**os.environ, "CHECKOUTFUNCTION_VERSION": "3", "CARTFUNCTION_VERSION": "4"}
    assert run_cli("validate", str(plan), env=env).returncode == 0
    text = run_cli("plan", str(plan), env=env).stdout
    assert "2 targets in 1 wave" in text
    assert "cart-function's deployment type differs" in result.stderr


def test_a_json_template_with_getatt_hooks_and_no_alarms(tmp_path: Path) -> None:
    result = run_cli("import", "sam", str(CORPUS / "sam-app.json"), "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "orders-function.yaml").read_text()
    assert '{"lambda": "orders-verify"}' in text         # !GetAtt VerifyFunction.Arn
    assert "max_vs_stable" in text                       # no alarms: analysis instead
    assert "Enabled: false" in result.stderr


def test_a_codedeploy_ecs_deployment_becomes_a_one_service_plan(tmp_path: Path) -> None:
    result = run_cli("import", "codedeploy", "--appspec", str(CORPUS / "appspec.yaml"),
                     "--deployment-group", str(CORPUS / "deployment-group.json"),
                     "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    plan = str(tmp_path / "shop-prod.yaml")
    env = {**os.environ, "TASK_DEFINITION": "shop:9"}
    assert run_cli("validate", plan, env=env).returncode == 0
    document = json.loads(run_cli("plan", plan, "--json", env=env).stdout)
    assert document["preset"] == "ECSLinear10PercentEvery1Minutes"
    assert document["keep_old_seconds"] == 900
    hooks = [s for s in document["steps"] if s["kind"] == "hook"]
    assert [(h["stage"], h["hook"]) for h in hooks] == [
        ("before_traffic", "lambda shop-before-install"),
        ("before_traffic", "lambda shop-test-traffic"),
        ("after_traffic", "lambda shop-after-traffic")]
    assert f"{CORPUS / 'deployment-group.json'}:1: warning: ignorePollAlarmFailure" \
        in result.stderr
    # the whole response and its deploymentGroupInfo are both accepted
    info = tmp_path / "info.json"
    info.write_text(json.dumps(json.loads((CORPUS / "deployment-group.json").read_text())
                               ["deploymentGroupInfo"]))
    again = run_cli("import", "codedeploy", "--appspec", str(CORPUS / "appspec.yaml"),
                    "--deployment-group", str(info), "--out", str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize(("content", "message"), [
    (b"\x00\x01\x02binary", "a binary file, not a SAM or CloudFormation template"),
    (b"- just\n- a list\n", "not a SAM or CloudFormation template (no Resources)"),
    (b"a: [unclosed\n", "not a SAM or CloudFormation template"),
    (b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     b"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
     "alias bomb"),
    (b"x" * (1 << 20 + 1), "larger than 1 MiB"),
])
def test_bad_input_is_exit_2_and_writes_nothing(tmp_path: Path, content: bytes,
                                                message: str) -> None:
    template = tmp_path / "template.yaml"
    template.write_bytes(content)
    out = tmp_path / "out"
    result = run_cli("import", "sam", str(template), "--out", str(out))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_an_imported_plan_releases(endpoint: str, tmp_path: Path, cli: Cli,
                                   write_plan: Callable[..., str]) -> None:
    world = create_lambda_world(endpoint, function="imported", alarms=("imported-errors",))
    template = tmp_path / "template.yaml"
    template.write_text("""\
Transform: AWS::Serverless-2016-10-31
Resources:
  Imported:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: imported
      AutoPublishAlias: live
      DeploymentPreference:
        Type: Canary10Percent5Minutes
        Alarms: [!Ref Errors]
  Errors:
    Type: AWS::CloudWatch::Alarm
    Properties: {AlarmName: imported-errors}
""")
    result = cli.run("import", "sam", str(template), "--out", str(tmp_path / "plans"))
    assert result.returncode == 0, result.stderr
    cli.env["NEW_VERSION"] = world.new
    code, _, err = finish(cli.rollout(str(tmp_path / "plans" / "imported.yaml"), scale="60"))
    assert code == 0, err
    assert world.alias_state() == (world.new, {})


def plan_json(path: Path, **variables: str) -> dict[str, object]:
    env = {**os.environ, **variables}
    checked = run_cli("validate", str(path), env=env)
    assert checked.returncode == 0, checked.stderr
    return dict(json.loads(run_cli("plan", str(path), "--json", env=env).stdout))


def test_a_cdk_app_becomes_a_plan_per_alias(tmp_path: Path) -> None:
    source = CORPUS / "cdk-stack.template.json"
    result = run_cli("import", "cloudformation", str(source), "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.glob("*.yaml")) == ["api-handler.yaml",
                                                               "worker-fn.yaml"]
    api = (tmp_path / "api-handler.yaml").read_text()
    assert '"shop-api"' in api and '"live"' in api          # FunctionName of the Ref'd function
    assert '"shop-api-errors"' in api                       # the alarm's AlarmName
    assert '"${ALARM_2}"' in api                            # an alarm CloudFormation names
    assert '{"lambda": "shop-api-pre"}' in api and '"${AFTER_TRAFFIC_HOOK}"' in api
    assert "CDKMetadata" not in api and "BootstrapVersion" not in api
    timeline = plan_json(tmp_path / "api-handler.yaml", NEW_VERSION="3", ALARM_2="lat",
                         AFTER_TRAFFIC_HOOK="post")
    assert timeline["preset"] == "LambdaLinear10PercentEvery1Minute"
    worker = (tmp_path / "worker-fn.yaml").read_text()
    assert '"${WORKER_FN_FUNCTION}"' in worker              # no FunctionName: a placeholder
    assert 'on_inconclusive: "promote"' in worker           # no alarms: never worse than CodeDeploy
    steps = plan_json(tmp_path / "worker-fn.yaml", NEW_VERSION="3",
                      WORKER_FN_FUNCTION="w")["steps"]
    assert [s["weight"] for s in steps if s["kind"] == "shift"] == [15, 100]  # custom config
    warnings = result.stderr.splitlines()
    assert any(w.startswith(f"{source}:") and "function WorkerFn7F6E5D4C has no FunctionName"
               in w for w in warnings)
    assert any("alias ApiAlias3C8E1B5F is moved by CodeDeploy" in w for w in warnings)


def test_sam_reads_a_processed_sam_template_as_cloudformation(tmp_path: Path) -> None:
    for verb in ("sam", "cloudformation"):
        out = tmp_path / verb
        result = run_cli("import", verb, str(CORPUS / "sam-processed.yaml"), "--out", str(out))
        assert result.returncode == 0, result.stderr
        text = (out / "hello-world-function.yaml").read_text()
        assert '"hello-errors"' in text and '{"lambda": "CodeDeployHook_hello-pre-traffic"}' \
            in text
        timeline = plan_json(out / "hello-world-function.yaml", NEW_VERSION="2",
                             HELLO_WORLD_FUNCTION_FUNCTION="hello")
        assert timeline["preset"] == "LambdaCanary10Percent10Minutes"  # !Sub [.., {..}]


def test_cloudformation_points_a_sam_template_to_import_sam(tmp_path: Path) -> None:
    result = run_cli("import", "cloudformation", str(CORPUS / "sam-app.yaml"), "--out",
                     str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"{CORPUS / 'sam-app.yaml'}: no AWS::Lambda::Alias")
    assert "use `deployer import sam`" in result.stderr


def test_a_serverless_service_becomes_a_plan_per_canaried_function(tmp_path: Path) -> None:
    source = CORPUS / "serverless.yml"
    result = run_cli("import", "serverless", str(source), "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.glob("*.yaml")) == ["authorize.yaml", "hello.yaml"]
    hello = (tmp_path / "hello.yaml").read_text()
    assert '"canary-svc-dev-hello"' in hello                # <service>-<stage>-<key>
    assert '"Live"' in hello                                # ${self:custom.alias}
    assert '"canary-svc-dev-hello-latency"' in hello        # {name: ...} with variables
    assert '{"lambda": "canary-svc-dev-preHook"}' in hello
    assert 'region: "eu-west-1"' in hello
    assert "HelloFooAlarm is a CloudFormation logical id" in result.stderr
    assert plan_json(tmp_path / "hello.yaml", NEW_VERSION="5")["preset"] == \
        "LambdaLinear10PercentEvery1Minute"
    authorize = (tmp_path / "authorize.yaml").read_text()
    assert '"canary-auth-dev"' in authorize                 # its own name, ${sls:stage}
    assert 'on_inconclusive: "promote"' in authorize        # watches nothing: analysis, promote
    assert "plain" not in " ".join(p.name for p in tmp_path.glob("*"))
    prod = run_cli("import", "serverless", str(source), "--stage", "prod", "--out",
                   str(tmp_path / "prod"), "--combine", "canary")
    assert prod.returncode == 0, prod.stderr
    combined = (tmp_path / "prod" / "canary.yaml").read_text()
    assert '"canary-svc-prod-hello"' in combined and '"canary-auth-prod"' in combined
    assert plan_json(tmp_path / "prod" / "canary.yaml", HELLO_VERSION="1",
                     AUTHORIZE_VERSION="2")["waves"]
    qa = run_cli("import", "serverless", str(source), "--stage", "qa", "--out", str(tmp_path))
    assert qa.returncode == 2
    assert "stage 'qa' is not released gradually" in qa.stderr


def test_unresolvable_serverless_variables_become_placeholders(tmp_path: Path) -> None:
    config = tmp_path / "serverless.yml"
    config.write_text("""\
service: ${env:SERVICE_NAME}
provider: {name: aws, stage: "${opt:stage, self:custom.stage}"}
custom: {stage: staging}
functions:
  api:
    handler: h.api
    deploymentSettings: {type: AllAtOnce, alias: "${ssm:/alias}", alarms: [{name: cost$5}]}
""")
    result = run_cli("import", "serverless", str(config), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "out" / "api.yaml").read_text()
    assert '"${SERVICE}-staging-api"' in text      # self:custom.stage as the fallback
    assert '"${API_ALIAS}"' in text
    assert '"cost$$5"' in text                     # a literal dollar stays one
    assert "known only at deploy time: ${env:SERVICE_NAME}" in result.stderr
    assert plan_json(tmp_path / "out" / "api.yaml", NEW_VERSION="1", SERVICE="s",
                     API_ALIAS="live")["preset"] == "LambdaAllAtOnce"


@pytest.mark.slow  # make soak: the imported SAM plan's release stays in make test
def test_an_imported_cdk_plan_releases(endpoint: str, tmp_path: Path, cli: Cli) -> None:
    world = create_lambda_world(endpoint, function="shop-api", alarms=("shop-api-errors",))
    template = json.loads((CORPUS / "cdk-stack.template.json").read_text())
    resources = template["Resources"]
    for name in ("ApiLatencyAlarm4E5F6A7B", "PreHook2D3E4F5A", "PostHookB1C2D3E4"):
        del resources[name]
    del resources["ApiDeploymentGroup5A1B9C2E"]["Properties"]["AlarmConfiguration"][
        "Alarms"][1]
    del resources["ApiAlias3C8E1B5F"]["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"][
        "BeforeAllowTrafficHook"]
    del resources["ApiAlias3C8E1B5F"]["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"][
        "AfterAllowTrafficHook"]
    (tmp_path / "stack.json").write_text(json.dumps(template))
    result = cli.run("import", "cloudformation", str(tmp_path / "stack.json"), "--out",
                     str(tmp_path / "plans"))
    assert result.returncode == 0, result.stderr
    cli.env["NEW_VERSION"] = world.new
    code, _, err = finish(cli.rollout(str(tmp_path / "plans" / "api-handler.yaml"),
                                      scale="120"))
    assert code == 0, err
    assert world.alias_state() == (world.new, {})
