"""The `deployer` command line (SPEC §3). Heavy imports stay inside commands so that
offline commands (validate, plan, schema) never load boto3."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

import click

from deployer import __version__
from deployer.cli import operators as cli_ops
from deployer.cli.importing import import_group
from deployer.cli.options import common_options, settings
from deployer.cli.serve import dashboard
from deployer.errors import DeployerError, ExitCode, PlanError, UsageError

if TYPE_CHECKING:
    from datetime import datetime

    from deployer.plan.loader import LoadedPlan

EXAMPLES = """
\b
Examples:
  deployer validate configs/*.yaml
  deployer plan configs/lambda-canary.yaml
  deployer rollout plan.yaml --set target.lambda.version=43 --report report.json
"""


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXAMPLES)
@click.version_option(__version__, "--version", prog_name="deployer")
@common_options
def cli() -> None:
    """Move production traffic to a new version step by step; roll back on alarms."""


set_option = click.option(
    "--set", "overrides", multiple=True, metavar="PATH=VALUE",
    help="Override a plan field, e.g. --set target.lambda.version=43 (repeatable).",
)
strict_option = click.option(
    "--strict", is_flag=True,
    help="Treat every warning (e.g. a plan that watches nothing) as an error: exit 2.",
)


def say_warnings(loaded: LoadedPlan, strict: bool = False) -> None:
    """Print the plan's warnings on stderr; under --strict they refuse it (exit 2)."""
    if strict and loaded.warnings:
        raise PlanError([f"{w} [--strict]" for w in loaded.warnings])
    for warning in loaded.warnings:
        click.echo(warning, err=True)


@cli.command(epilog="""
\b
Examples:
  deployer validate configs/*.yaml
  deployer validate plan.yaml --set target.lambda.version=43
  deployer validate --strict plans/*.yaml     # warnings fail too (CI)
  deployer validate --engine stepfunctions plan.yaml   # what that engine refuses, too
""")
@click.argument("plans", nargs=-1, required=True, type=click.Path(dir_okay=False))
@set_option
@strict_option
@click.option("--engine", type=click.Choice(["local", "stepfunctions"]), default="local",
              show_default=True,
              help="Also check what that engine refuses (stepfunctions: command and http "
                   "hooks, checks.metrics, the history limit).")
@common_options
def validate(plans: tuple[str, ...], overrides: tuple[str, ...], strict: bool,
             engine: str) -> int:
    """Check release plans offline; print every problem as FILE:LINE:COL: field: message."""
    from deployer.plan.compile import baked_seconds, compile_strategy
    from deployer.plan.durations import format_duration
    from deployer.plan.loader import load_plan
    from deployer.plan.timeline import strategy_label

    failed = False
    for path in plans:
        try:
            loaded = load_plan(path, overrides)
            say_warnings(loaded, strict)
            if engine == "stepfunctions":
                from deployer.stepfunctions.validate import check_plan_for_engine

                check_plan_for_engine(loaded.plan, loaded.path)
        except PlanError as exc:
            failed = True
            for problem in exc.problems:
                click.echo(problem, err=True)
            continue
        steps = compile_strategy(loaded.plan.strategy)
        if settings().verbosity < 0:
            continue
        plural = "s" if len(steps) != 1 else ""
        click.echo(f"{path}: ok ({loaded.plan.name}: {strategy_label(loaded.plan)}, "
                   f"{len(steps)} step{plural}, "
                   f"{format_duration(baked_seconds(steps))} of bakes)")
    return ExitCode.INVALID if failed else ExitCode.SUCCEEDED


@cli.command(epilog="""
\b
Examples:
  deployer plan configs/lambda-linear.yaml
  deployer plan plan.yaml --json | jq .total_seconds
""")
@click.argument("plan_path", metavar="PLAN", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as JSON.")
@click.option("--at", "at", metavar="TIME", default=None,
              help="With windows: when each step would run for a release started at TIME "
                   "(2026-12-04T17:00+01:00; without an offset, UTC).")
@set_option
@common_options
def plan(plan_path: str, as_json: bool, at: str | None, overrides: tuple[str, ...]) -> int:
    """Print the rollout timeline of a plan, offline (no AWS calls)."""
    from deployer.plan.loader import load_plan
    from deployer.plan.timeline import timeline_json, timeline_text

    start = _moment(at) if at else None
    loaded = load_plan(plan_path, overrides)
    say_warnings(loaded)
    if as_json:
        import json

        click.echo(json.dumps(timeline_json(loaded.plan), indent=2))
    else:
        click.echo(timeline_text(loaded.plan, start))
    return ExitCode.SUCCEEDED


def _moment(text: str) -> datetime:
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--at {text!r} is not a time like 2026-12-04T17:00+01:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@cli.command()
@common_options
def schema() -> int:
    """Print the JSON Schema of the plan format (also in configs/schema.json)."""
    from deployer.plan.schema import plan_schema_text

    click.echo(plan_schema_text(), nl=False)
    return ExitCode.SUCCEEDED


@cli.command(epilog="""
\b
Examples:
  deployer rollout plan.yaml --set target.lambda.version=43 --report report.json
  deployer rollout plan.yaml --yes --store dynamodb://deployer-runs   # in CI
  deployer rollout plan.yaml --dry-run        # resolve + preflight, change nothing
  deployer rollout plan.yaml --engine stepfunctions --role-arn ARN \\
    --store dynamodb://deployer-runs          # runs on AWS; this returns at once
\b
Exit codes: 0 succeeded, 1 unexpected error, 2 invalid plan, 3 rolled back,
4 aborted, 5 refused (nothing changed), 6 unsafe (rollback failed or drift).
""")
@click.argument("plan_path", metavar="PLAN", type=click.Path(dir_okay=False))
@set_option
@click.option("--report", metavar="FILE", help="Write the run report (JSON) here at the end.")
@click.option("--report-html", metavar="FILE",
              help="Write the run as a self-contained HTML page here at the end.")
@click.option("--yes", "assume_yes", is_flag=True, help="No interactive prompts.")
@click.option("--time-scale", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="Divide every duration by N (rehearsals, tests).")
@click.option("--dry-run", is_flag=True, help="Resolve and preflight against AWS; change nothing.")
@click.option("--engine", type=click.Choice(["local", "stepfunctions"]), default="local",
              show_default=True,
              help="Who executes the run: this process, or an AWS Step Functions state "
                   "machine (no process stays alive during bakes).")
@click.option("--role-arn", metavar="ARN",
              help="--engine stepfunctions: the IAM role the state machine runs as.")
@click.option("--wait", "wait_for_end", is_flag=True,
              help="--engine stepfunctions: follow the run and exit with its outcome's code.")
@click.option("--override-window", is_flag=True,
              help="Break glass: release even while the plan's windows are closed "
                   "(needs --reason; kept in the record, report and notifications).")
@click.option("--reason", metavar="TEXT", help="Why the window is overridden.")
@strict_option
@common_options
def rollout(plan_path: str, overrides: tuple[str, ...], report: str | None,
            report_html: str | None, assume_yes: bool, time_scale: float,
            dry_run: bool, engine: str, role_arn: str | None, wait_for_end: bool,
            override_window: bool, reason: str | None, strict: bool) -> int:
    """Run a release plan; blocks until it succeeds, rolls back or fails."""
    from deployer.logs import configure_logging
    from deployer.plan.loader import load_plan
    from deployer.runs.rollout import RolloutOptions, exit_code_of
    from deployer.runs.rollout import rollout as run_rollout

    if override_window != bool(reason and reason.strip()):
        raise UsageError("--override-window needs --reason TEXT (why the window is broken), "
                         "and --reason goes with --override-window")
    loaded = load_plan(plan_path, overrides)
    say_warnings(loaded, strict)
    options = settings()
    if engine == "stepfunctions":
        configure_logging(options.log_format, options.verbosity)
        return _rollout_on_stepfunctions(loaded, role_arn, time_scale, wait_for_end,
                                         report, dry_run, reason)
    if role_arn or wait_for_end:
        raise UsageError("--role-arn and --wait go with --engine stepfunctions")
    live = sys.stdout.isatty() and options.verbosity >= 0 and not dry_run
    quiet_logs = live and options.log_format == "auto"
    configure_logging(options.log_format, options.verbosity - (2 if quiet_logs else 0))
    prompt = live and sys.stdin.isatty() and not assume_yes
    record = run_rollout(loaded, options, RolloutOptions(
        report=report, report_html=report_html, time_scale=time_scale, dry_run=dry_run,
        live=live, prompt=prompt, override_window=reason, strict=strict))
    return exit_code_of(record)


def _rollout_on_stepfunctions(loaded: LoadedPlan, role_arn: str | None, time_scale: float,
                              wait_for_end: bool, report: str | None, dry_run: bool,
                              override_window: str | None = None) -> int:
    from deployer.runs.on_stepfunctions import MachineOptions, start_on_stepfunctions
    from deployer.runs.rollout import RolloutOptions, exit_code_of, finish_report
    from deployer.runs.rollout import rollout as run_rollout
    from deployer.stepfunctions.validate import check_plan_for_engine

    options = settings()
    if dry_run:
        check_plan_for_engine(loaded.plan, loaded.path)
        run_rollout(loaded, options, RolloutOptions(dry_run=True))
        return ExitCode.SUCCEEDED
    if not role_arn:
        raise UsageError("--engine stepfunctions needs --role-arn ARN: the IAM role the state "
                         "machine runs as (deployer iam-policy PLAN --engine stepfunctions "
                         "prints what it needs)")
    record = start_on_stepfunctions(loaded, options, MachineOptions(role_arn, time_scale,
                                                                     override_window))
    if record.terminal:  # refused, or nothing to do: no execution was started
        finish_report(record, report, loaded.path)
        return exit_code_of(record)
    click.echo(f"run {record.run_id} started on AWS Step Functions")
    click.echo(f"execution {record.engine['execution_arn']}")
    if report and not wait_for_end:  # the record as handed over (names the run for CI)
        from deployer.runs.rollout import write_report

        write_report(record.document(), report)
    if not wait_for_end:
        click.echo(f"follow it: deployer status {record.run_id} --watch", err=True)
        return ExitCode.SUCCEEDED
    from deployer.cli.status_view import watch
    from deployer.runs.on_stepfunctions import settler
    from deployer.store import open_store

    store = open_store(options.store, options)
    final = watch(store, record.run_id, live=False, settle=settler(store, options))
    finish_report(final, report, loaded.path)
    return exit_code_of(final)


@cli.command(epilog="""
\b
Examples:
  deployer export plan.yaml --engine stepfunctions --store dynamodb://deployer-runs
  deployer export plan.yaml --engine stepfunctions --out machine.json
""")
@click.argument("plan_path", metavar="PLAN", type=click.Path(dir_okay=False))
@set_option
@click.option("--engine", type=click.Choice(["stepfunctions"]), required=True,
              help="What to compile the plan for.")
@click.option("--out", metavar="FILE", help="Write here instead of standard output.")
@common_options
def export(plan_path: str, overrides: tuple[str, ...], engine: str, out: str | None) -> int:
    """Compile PLAN for another engine (offline): {"definition", "role_policy"}."""
    import json

    from deployer.cli.iam_policy import machine_role_policy
    from deployer.plan.loader import load_plan
    from deployer.runs.on_stepfunctions import table_for_export
    from deployer.stepfunctions.compiler import compile_plan
    from deployer.stepfunctions.validate import check_plan_for_engine

    options = settings()
    loaded = load_plan(plan_path, overrides)
    check_plan_for_engine(loaded.plan, loaded.path, options.region)
    table = table_for_export(options)
    document = {"definition": compile_plan(loaded.plan, table),
                "role_policy": machine_role_policy(loaded.plan, table, options.region)}
    text = json.dumps(document, indent=2) + "\n"
    from deployer.stepfunctions.history import HISTORY_LIMIT, worst_case

    tally = worst_case(loaded.plan)
    click.echo(f"worst case per run: {tally.events:,} history events (limit "
               f"{HISTORY_LIMIT:,}), {tally.transitions:,} state transitions "
               f"(about ${tally.cost:.4f})", err=True)
    if out is None:
        click.echo(text, nl=False)
        return ExitCode.SUCCEEDED
    try:
        with open(out, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise DeployerError(f"cannot write {out}: {exc.strerror}") from exc
    click.echo(f"wrote {out}", err=True)
    return ExitCode.SUCCEEDED


for _command in (cli_ops.status, cli_ops.list_runs, cli_ops.approve, cli_ops.promote,
                 cli_ops.abort, cli_ops.resume, cli_ops.rollback, cli_ops.store_group,
                 cli_ops.report, import_group, dashboard):
    cli.add_command(_command)


@cli.command("iam-policy", epilog="""
\b
Example:
  deployer iam-policy plan.yaml --store dynamodb://deployer-runs > policy.json
""")
@click.argument("plan_path", metavar="PLAN", type=click.Path(dir_okay=False))
@set_option
@click.option("--engine", type=click.Choice(["local", "stepfunctions"]), default="local",
              show_default=True, help="stepfunctions: the state machine's role policy and "
                                      "the caller's, as one JSON object.")
@click.option("--runner", "runners", metavar="ARN", multiple=True,
              help="An IAM principal deployer runs as (the CI role; with --engine "
                   "stepfunctions also the state machine's role), named in each target "
                   "role's trust policy (targets with role_arn). Repeatable; default: a "
                   "placeholder for the runner's account.")
@common_options
def iam_policy(plan_path: str, overrides: tuple[str, ...], engine: str,
               runners: tuple[str, ...]) -> int:
    """Print the least-privilege IAM policy a rollout of PLAN needs (offline). With
    targets in other accounts (role_arn): the runner's policy and, per target role,
    its policy and trust policy."""
    import json

    from deployer.cli.iam_policy import (
        RUNNER_PLACEHOLDER,
        caller_policy,
        machine_role_policy,
        policy_for,
        role_policies,
    )
    from deployer.plan.loader import load_plan

    options = settings()
    loaded = load_plan(plan_path, overrides)
    if engine == "stepfunctions":
        from deployer.runs.on_stepfunctions import table_for_export
        from deployer.stepfunctions.validate import check_plan_for_engine

        check_plan_for_engine(loaded.plan, loaded.path, options.region)
        table = table_for_export(options)
        roles = role_policies(loaded.plan, options.region, list(runners))
        click.echo(json.dumps({
            "state_machine_role": machine_role_policy(loaded.plan, table, options.region),
            "caller": caller_policy(loaded.plan, table, options.region),
            **({"roles": roles} if roles else {})}, indent=2))
        return ExitCode.SUCCEEDED
    policy = policy_for(loaded.plan, options.store, options.region)
    roles = role_policies(loaded.plan, options.region, list(runners))
    if not roles:
        click.echo(json.dumps(policy, indent=2))
        return ExitCode.SUCCEEDED
    if not runners:
        click.echo(f"note: each trust policy names {RUNNER_PLACEHOLDER}: put the runner's "
                   "account there, or pass --runner ARN", err=True)
    click.echo(json.dumps({"runner": policy, "roles": roles}, indent=2))
    return ExitCode.SUCCEEDED


@cli.command(epilog="""
\b
Examples:
  deployer demo                       # a canary that succeeds
  deployer demo --scenario rollback   # an alarm fires mid-bake: automatic rollback
""")
@click.option("--scenario", type=click.Choice(["canary", "rollback", "approval", "ecs"]),
              default="canary", show_default=True, help="Which story to run.")
@click.option("--yes", "assume_yes", is_flag=True, help="No interactive prompts.")
@click.option("--time-scale", type=click.FloatRange(min=1), default=30.0, show_default=True,
              help="How much faster than the plan's real durations to run.")
@common_options
def demo(scenario: str, assume_yes: bool, time_scale: float) -> int:
    """Run a full rollout against a built-in local AWS (no account needed)."""
    from deployer.demo.scenarios import run_demo
    from deployer.logs import configure_logging

    options = settings()
    live = sys.stdout.isatty() and options.verbosity >= 0
    configure_logging(options.log_format, options.verbosity - (2 if live else 0))
    return run_demo(scenario, live=live, interactive=live and sys.stdin.isatty()
                    and not assume_yes, time_scale=time_scale)


def main(argv: list[str] | None = None) -> NoReturn:
    """Console entry point: map every outcome to an exit code of SPEC §4, never a traceback."""
    try:
        result = cli.main(args=argv, prog_name="deployer", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(ExitCode.INVALID if exc.exit_code == 2 else exc.exit_code)
    except click.exceptions.Abort:
        click.echo("deployer: aborted", err=True)
        sys.exit(ExitCode.ABORTED)
    except DeployerError as exc:
        _explain(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("deployer: interrupted", err=True)
        sys.exit(ExitCode.ABORTED)
    except Exception as exc:  # the one place a bug is turned into exit 1
        click.echo(f"deployer: unexpected error: {type(exc).__name__}: {exc}", err=True)
        if "-v" in sys.argv or "--verbose" in sys.argv:
            raise
        sys.exit(ExitCode.UNEXPECTED)
    sys.exit(int(result or 0))


def _explain(exc: DeployerError) -> None:
    if isinstance(exc, PlanError):
        for problem in exc.problems:
            click.echo(problem, err=True)
        return
    located = getattr(exc, "located", False)  # `FILE: message` (import verbs) stands alone
    click.echo(exc.message if located else f"deployer: {exc.message}", err=True)
    if exc.hint:
        click.echo(f"  {exc.hint}", err=True)
