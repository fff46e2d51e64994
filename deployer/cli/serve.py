"""`deployer dashboard`: the local web dashboard over the run store (SPEC §12)."""

from __future__ import annotations

import ipaddress

import click

from deployer.cli.options import common_options, settings
from deployer.errors import ExitCode, UsageError

LOOPBACK = ("localhost",)


@click.command(epilog="""
\b
Examples:
  deployer dashboard                                  # http://127.0.0.1:8080, this machine only
  deployer dashboard --store dynamodb://deployer-runs --port 9000
  deployer dashboard --host 0.0.0.0 --token "$DASHBOARD_TOKEN"   # reachable: token required
""")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--token", envvar="DEPLOYER_DASHBOARD_TOKEN",
              help="Required off loopback: every request must carry it (bearer or login).")
@common_options
def dashboard(host: str, port: int, token: str | None) -> int:
    """Runs in the store, a live run page, and approve / promote / abort buttons."""
    if not _loopback(host) and not token:
        raise UsageError(f"--host {host} is reachable from other machines: give --token "
                         "(or DEPLOYER_DASHBOARD_TOKEN), which every request must carry")
    try:
        import uvicorn

        from deployer.dashboard.app import create_app
    except ImportError:
        raise UsageError("the dashboard needs its extra: pip install 'deployer-aws[dashboard]'"
                         ) from None
    from deployer.aws import caller_arn
    from deployer.runs.operator import local_identity
    from deployer.store import open_store

    options = settings()
    store = open_store(options.store, options)
    identity = caller_arn(options.region, options.profile, options.endpoint_url) or \
        local_identity()
    if token:
        click.echo(f"deployer dashboard on http://{host}:{port}: every request needs the "
                   "token (Authorization: Bearer, or sign in at /login)", err=True)
    else:
        click.echo(f"deployer dashboard on http://{host}:{port} (this machine only)", err=True)
    uvicorn.run(create_app(store, identity, token, options), host=host, port=port,
                log_level="warning")
    return ExitCode.SUCCEEDED


def _loopback(host: str) -> bool:
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
