"""`deployer import sam|codedeploy`: plans from what users already have (SPEC §10).
Offline; plans are written only when every one of them validates."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from deployer.errors import ExitCode


@click.group("import")
def import_group() -> None:
    """Write plans from a SAM template or a CodeDeploy ECS deployment (offline)."""


@import_group.command("sam", epilog="""
\b
Examples:
  deployer import sam template.yaml --out deploy/
  deployer import sam template.yaml --combine shop     # one plan, every function a target
""")
@click.argument("template", type=click.Path(dir_okay=False))
@click.option("--out", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the plans (one per function, or one with --combine).")
@click.option("--combine", metavar="NAME", help="One whole-application plan named NAME.")
def sam(template: str, out: str, combine: str | None) -> int:
    """Every function with AutoPublishAlias and a DeploymentPreference becomes a plan."""
    from deployer.importers.sam import import_sam

    return _write(import_sam(template, combine), out)


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

    return _write([import_codedeploy(appspec, group)], out)


def _write(drafts: Sequence[object], out: str) -> int:
    from deployer.importers.draft import Draft, check_and_write

    ready = [d for d in drafts if isinstance(d, Draft)]
    for draft in ready:
        for warning in draft.warnings:
            print(warning, file=sys.stderr)
    written = check_and_write(ready, Path(out))
    for path, draft in zip(written, ready, strict=True):
        variables = draft.variables()
        click.echo(f"wrote {path}" + (f" (set {', '.join(variables)})" if variables else ""))
    return ExitCode.SUCCEEDED
