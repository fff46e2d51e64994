"""`deployer import sam|cloudformation|serverless|codedeploy`: plans from what users
already have (SPEC §10, §10b). Offline; plans are written only when every one of them
validates. Whatever the input, the answer is plans (exit 0) or `FILE: message` (exit 2)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from deployer.errors import ExitCode

if TYPE_CHECKING:
    from deployer.importers.draft import Draft

out_option = click.option(
    "--out", default=".", show_default=True, type=click.Path(file_okay=False),
    help="Folder for the plans (one per function, or one with --combine).")
combine_option = click.option("--combine", metavar="NAME",
                              help="One whole-application plan named NAME.")


@click.group("import")
def import_group() -> None:
    """Write plans from SAM, CloudFormation / CDK, Serverless or CodeDeploy (offline)."""


@import_group.command("sam", epilog="""
\b
Examples:
  deployer import sam template.yaml --out deploy/
  deployer import sam template.yaml --combine shop     # one plan, every function a target
""")
@click.argument("template", type=click.Path(dir_okay=False))
@out_option
@combine_option
def sam(template: str, out: str, combine: str | None) -> int:
    """Every function with AutoPublishAlias and a DeploymentPreference becomes a plan."""
    from deployer.importers.sam import import_sam

    return _write(template, lambda: import_sam(template, combine), out)


@import_group.command("cloudformation", epilog="""
\b
Examples:
  cdk synth && deployer import cloudformation cdk.out/ShopStack.template.json --out deploy/
  deployer import cloudformation processed-template.yaml --combine shop
""")
@click.argument("template", type=click.Path(dir_okay=False))
@out_option
@combine_option
def cloudformation(template: str, out: str, combine: str | None) -> int:
    """Every AWS::Lambda::Alias under CodeDeploy (UpdatePolicy CodeDeployLambdaAliasUpdate)
    becomes a plan: what the AWS CDK synthesizes, or a processed SAM template."""
    from deployer.importers.cloudformation import import_cloudformation

    return _write(template, lambda: import_cloudformation(template, combine), out)


@import_group.command("serverless", epilog="""
\b
Examples:
  deployer import serverless serverless.yml --stage prod --out deploy/
  deployer import serverless serverless.yml --combine shop
""")
@click.argument("config", metavar="SERVERLESS_YML", type=click.Path(dir_okay=False))
@click.option("--stage", help="The stage to import (default: provider.stage, else dev).")
@out_option
@combine_option
def serverless(config: str, stage: str | None, out: str, combine: str | None) -> int:
    """Every function with deploymentSettings (serverless-plugin-canary-deployments)
    becomes a plan."""
    from deployer.importers.serverless import import_serverless

    return _write(config, lambda: import_serverless(config, stage, combine), out)


@import_group.command("codedeploy", epilog="""
\b
Example:
  aws deploy get-deployment-group --application-name shop \\
      --deployment-group-name shop-prod --output json > group.json
  deployer import codedeploy --appspec appspec.yaml --deployment-group group.json --out deploy/
""")
@click.option("--appspec", required=True, type=click.Path(dir_okay=False),
              help="The ECS appspec (YAML or JSON).")
@click.option("--deployment-group", "group", required=True, type=click.Path(dir_okay=False),
              help="The output of aws deploy get-deployment-group (or its deploymentGroupInfo).")
@click.option("--out", default=".", show_default=True, type=click.Path(file_okay=False))
def codedeploy(appspec: str, group: str, out: str) -> int:
    """An ECS appspec and its deployment group become a one-service plan."""
    from deployer.importers.codedeploy import import_codedeploy

    return _write(f"{appspec} / {group}", lambda: [import_codedeploy(appspec, group)], out)


def _write(source: str, read: Callable[[], Sequence[Draft]], out: str) -> int:
    from deployer.importers.draft import check_and_write
    from deployer.importers.template import ImportProblem

    try:
        drafts = list(read())
    except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
        # The importers read every value through importers/shapes.py; a file that still
        # surprises them is answered like any unreadable input, not with a traceback.
        # (The import fuzz test fails if this line is ever reached.)
        raise ImportProblem(f"{source}: cannot read this file's structure "
                            f"({type(exc).__name__}: {exc})"[:300]) from None
    for draft in drafts:
        for warning in draft.warnings:
            print(warning, file=sys.stderr)
    written = check_and_write(drafts, Path(out))
    for path, draft in zip(written, drafts, strict=True):
        variables = draft.variables()
        click.echo(f"wrote {path}" + (f" (set {', '.join(variables)})" if variables else ""))
    return ExitCode.SUCCEEDED
