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
    assert "cart-function's DeploymentPreference differs" in result.stderr


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
