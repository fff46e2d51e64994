"""Operator commands: status, list, approve, promote, abort, resume, rollback, store init.

They act through the store, so they work from any process or machine that reaches
it; the controller picks requests up within one poll."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from deployer.cli.options import common_options, settings
from deployer.core.settings import Settings
from deployer.errors import ExitCode

if TYPE_CHECKING:
    from deployer.core.ports import Store
    from deployer.core.record import RunRecord

reason_option = click.option("--reason", metavar="TEXT", help="Why (kept in the run's events).")


def _store_and_identity() -> tuple[Settings, Store, str]:
    from deployer.aws import caller_arn
    from deployer.runs.operator import local_identity
    from deployer.store import open_store

    options = settings()
    store = open_store(options.store, options)
    who = caller_arn(options.region, options.profile, options.endpoint_url) or local_identity()
    return options, store, who


def _request(run_id: str, action: str, reason: str | None) -> int:
    from deployer.core.record import lease_alive
    from deployer.runs.operator import request_action

    options, store, who = _store_and_identity()
    record, request, sent = request_action(store, run_id, action, who, reason, options)
    verb = action.replace("_", " --")
    if record.on_stepfunctions:
        how = f"its approval answered ({sent})" if sent else \
            "the state machine acts on it within one poll"
        click.echo(f"{verb} requested for {run_id} by {who} (request {request['id']}); {how}")
        return ExitCode.SUCCEEDED
    click.echo(f"{verb} requested for {run_id} by {who} "
               f"(request {request['id']}); the controller acts on it within one poll")
    if not lease_alive(record):
        click.echo(f"warning: no live controller holds {run_id} (its lease expired); "
                   f"run `deployer resume {run_id}` to act on it", err=True)
    return ExitCode.SUCCEEDED


@click.command(epilog="""
\b
Example:
  deployer report checkout-20261126T181500Z-3fa2 --html run.html
""")
@click.argument("run_id")
@click.option("--html", "html", required=True, metavar="FILE",
              help="Write one self-contained HTML page for the run here.")
@common_options
def report(run_id: str, html: str) -> int:
    """A run as a page: targets, the chart of read-back weights, analysis, events."""
    from deployer.display.html_report import write_report_html

    _, store, _ = _store_and_identity()
    write_report_html(store.load(run_id).document(), html)
    click.echo(f"wrote {html}")
    return ExitCode.SUCCEEDED


@click.command(epilog="""
\b
Examples:
  deployer status                               # the newest active run
  deployer status checkout-20261126T181500Z-3fa2 --json
  deployer status RUN_ID --watch                # follow it; exit with its code
""")
@click.argument("run_id", required=False)
@click.option("--watch", is_flag=True, help="Follow the run until it ends; exit with its code.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's report document.")
@common_options
def status(run_id: str | None, watch: bool, as_json: bool) -> int:
    """Show a run (default: the newest active one, else the newest)."""
    from deployer.cli.status_view import render_text
    from deployer.cli.status_view import watch as follow
    from deployer.runs.operator import find_run
    from deployer.store import open_store

    options = settings()
    store = open_store(options.store, options)
    record = find_run(store, run_id)
    settle = None
    if record.on_stepfunctions:
        from deployer.runs.on_stepfunctions import settler

        settle = settler(store, options)
        record = settle(record)
    if watch:
        record = follow(store, record.run_id, live=sys.stdout.isatty() and not as_json,
                        settle=settle)
    if as_json:
        click.echo(json.dumps(record.document(), indent=2))
    elif not watch:
        click.echo(render_text(record))
    if watch:
        return record.exit_code if record.exit_code is not None else ExitCode.UNEXPECTED
    return ExitCode.SUCCEEDED


@click.command("list")
@click.option("--all", "include_ended", is_flag=True, help="Include runs that have ended.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of run documents.")
@common_options
def list_runs(include_ended: bool, as_json: bool) -> int:
    """List runs in the store (default: the active ones)."""
    from deployer.cli.status_view import render_row
    from deployer.runs.operator import listing
    from deployer.store import open_store

    options = settings()
    store = open_store(options.store, options)
    records = list(store.runs())
    if any(r.on_stepfunctions and not r.terminal for r in records):
        from deployer.errors import DeployerError
        from deployer.runs.on_stepfunctions import settler

        settle = settler(store, options)  # as status does
        settled = []
        for record in records:  # an execution that ended (or never started) ends its run
            try:
                settled.append(settle(record))
            except DeployerError:
                settled.append(record)  # listing never fails for one unreadable execution
        records = settled
    runs = listing(records, include_ended)
    if as_json:
        click.echo(json.dumps([r.document(with_events=False) for r in runs], indent=2))
    else:
        for record in runs:
            click.echo(render_row(record))
        if not runs:
            click.echo("no active runs" if not include_ended else "no runs", err=True)
    return ExitCode.SUCCEEDED


@click.command(epilog="""
\b
Example:
  deployer approve checkout-20261126T181500Z-3fa2 --reason "p99 is flat" \\
    --store dynamodb://deployer-runs
""")
@click.argument("run_id")
@reason_option
@common_options
def approve(run_id: str, reason: str | None) -> int:
    """Release a run waiting at an approval step."""
    return _request(run_id, "approve", reason)


@click.command(epilog="""
\b
Examples:
  deployer promote checkout-20261126T181500Z-3fa2          # end the current bake
  deployer promote checkout-20261126T181500Z-3fa2 --override-window \\
    --reason "INC-42: the fix must ship in the freeze"     # break glass
""")
@click.argument("run_id")
@click.option("--full", is_flag=True, help="Go to 100% now, skipping every remaining step.")
@click.option("--override-window", is_flag=True,
              help="Break glass: the run moves on even while its deployment windows are "
                   "closed (needs --reason; kept in the record, report and notifications).")
@reason_option
@common_options
def promote(run_id: str, full: bool, override_window: bool, reason: str | None) -> int:
    """Skip the current bake or wait (--full: go to 100% now)."""
    if override_window:
        from deployer.errors import UsageError

        if full or not (reason and reason.strip()):
            raise UsageError("--override-window needs --reason TEXT (why the window is "
                             "broken), and goes without --full")
        return _request(run_id, "override_window", reason.strip())
    return _request(run_id, "promote_full" if full else "promote", reason)


@click.command()
@click.argument("run_id")
@reason_option
@common_options
def abort(run_id: str, reason: str | None) -> int:
    """Roll a run back now. If its controller died, roll back from here."""
    from deployer.core.record import Outcome, lease_alive
    from deployer.runs.resume import resume_run

    options, store, who = _store_and_identity()
    record = store.load(run_id)
    if record.on_stepfunctions:
        from deployer.runs.on_stepfunctions import settle_if_the_machine_died

        settled = settle_if_the_machine_died(store, record, options)
        if settled.terminal and not record.terminal:  # nobody left to roll it back
            return _finish(settled)
    if record.terminal or lease_alive(record) or record.on_stepfunctions:
        return _request(run_id, "abort", reason)
    click.echo(f"no live controller holds {run_id}: rolling it back from here", err=True)
    _configure(options)
    final = resume_run(store, run_id, options, who, force=True,
                       abort_reason=reason or "aborted")
    code = _finish(final)
    return ExitCode.SUCCEEDED if final.outcome == Outcome.ABORTED else code


@click.command()
@click.argument("run_id")
@click.option("--force", is_flag=True, help="Do not wait for the controller's lease to expire.")
@click.option("--yes", "assume_yes", is_flag=True, help="No interactive prompts.")
@common_options
def resume(run_id: str, force: bool, assume_yes: bool) -> int:
    """Take over a run whose controller died and drive it to the end."""
    from deployer.runs.resume import resume_run

    options, store, who = _store_and_identity()
    _configure(options)
    live = sys.stdout.isatty() and options.verbosity >= 0
    record = resume_run(store, run_id, options, who, force=force, live=live)
    return _finish(record)


@click.command(epilog="""
\b
Examples:
  deployer rollback plan.yaml                   # what served before the newest run
  deployer rollback plan.yaml --to 41           # Lambda: this version, whatever the store says
  deployer rollback ecs-plan.yaml --to blue     # ECS: this colour
  deployer rollback app.yaml --to cart=41 --to web=blue   # per target of an application
""")
@click.argument("plan_path", metavar="PLAN", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
              help="Override a plan field (repeatable).")
@click.option("--to", "to", multiple=True, metavar="[NAME=]VERSION|COLOUR",
              help="The version (Lambda) or colour (ECS) to go back to, whatever the store "
                   "says; NAME=... per target of an application (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@common_options
def rollback(plan_path: str, overrides: tuple[str, ...], to: tuple[str, ...],
             as_json: bool) -> int:
    """Emergency: every target back on what it served before the newest run that changed
    it (also after that run succeeded, also when its runner died), now.

    Needs only the plan's target identity: an unset ${VAR} elsewhere (the new
    version, the image tag) is fine. One line per target: from what, to what, why."""
    from deployer.errors import DeployerError, UsageError
    from deployer.plan.loader import load_target_identity
    from deployer.runs.emergency import emergency_rollback
    from deployer.store import open_store

    loaded = load_target_identity(plan_path, overrides)
    names = [leg.name for leg in loaded.plan.legs]
    wanted: dict[str, str] = {}
    for entry in to:
        name, sep, side = entry.partition("=")
        if not sep:
            if loaded.plan.target is None:
                raise UsageError(f"--to {entry}: name the target of this application: "
                                 f"--to NAME={entry} (targets: {', '.join(names)})")
            name, side = names[0], entry
        if not side:
            raise UsageError(f"--to {entry}: give the version or colour after =")
        wanted[name] = side
    options, _, who = _store_and_identity()
    _configure(options)
    try:
        store = open_store(options.store, options)
    except DeployerError:
        store = None
    result = emergency_rollback(loaded, options, store, wanted, who)
    if as_json:
        click.echo(json.dumps({"targets": [t.document() for t in result.targets],
                               "ended_runs": result.ended,
                               "abort_requested": result.asked}, indent=2))
    else:
        for restored in result.targets:
            click.echo(restored.line)
    for restored in result.targets:
        for warning in restored.warnings:
            click.echo(f"warning: {restored.name}: {warning}", err=True)
    for run_id in result.ended:
        click.echo(f"run {run_id} (its controller was dead) ended: aborted; its locks are "
                   "released", err=True)
    for run_id in result.asked:
        click.echo(f"run {run_id} was asked to abort; its controller ends it", err=True)
    if result.exit_code != ExitCode.SUCCEEDED:
        click.echo("deployer: emergency rollback FAILED for some targets (above): traffic "
                   "may still be on the version rolled away from", err=True)
    return result.exit_code


@click.group("store")
def store_group() -> None:
    """Manage the run store."""


@store_group.command("init")
@click.argument("url")
@common_options
def store_init(url: str) -> int:
    """Create the store (e.g. the DynamoDB table, on-demand billing, with TTL)."""
    from deployer.store import init_store

    click.echo(init_store(url, settings()))
    return ExitCode.SUCCEEDED


def _configure(options: Settings) -> None:
    from deployer.logs import configure_logging

    configure_logging(options.log_format, options.verbosity)


def _finish(record: RunRecord) -> int:
    from deployer.runs.rollout import exit_code_of, finish_report

    finish_report(record, None)
    return exit_code_of(record)
