"""Options shared by every command (SPEC §3 "Common options") and the settings they fill."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from deployer.core.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

def settings() -> Settings:
    ctx = click.get_current_context()
    found = ctx.find_object(Settings)
    return found if found is not None else ctx.ensure_object(Settings)


def _remember(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        current = ctx.find_object(Settings) or ctx.ensure_object(Settings)
        if ctx.get_parameter_source(param.name or name) in (ParameterSource.DEFAULT, None):
            return
        if name == "verbosity":
            current.verbosity += value
        elif name == "quiet":
            current.verbosity -= 1 if value else 0
        else:
            setattr(current, name, value)
            if name == "store":
                current.store_given = True

    return callback


def common_options(command: F) -> F:
    """Add --store/--region/--profile/--endpoint-url/--log-format/-q/-v to a command."""
    options = [
        click.option("--store", metavar="URL", expose_value=False, callback=_remember("store"),
                     envvar="DEPLOYER_STORE",
                     help="Run store: file://DIR (default file://.deployer) or dynamodb://TABLE."),
        click.option("--region", expose_value=False, callback=_remember("region"),
                     help="AWS region (else the plan's region, AWS_REGION or the profile's)."),
        click.option("--profile", expose_value=False, callback=_remember("profile"),
                     help="AWS named profile."),
        click.option("--endpoint-url", metavar="URL", expose_value=False,
                     callback=_remember("endpoint_url"), envvar="AWS_ENDPOINT_URL",
                     help="Send every AWS call here (a local AWS such as moto)."),
        click.option("--log-format", type=click.Choice(["auto", "console", "json"]),
                     expose_value=False, callback=_remember("log_format"),
                     help="auto: console on a TTY, JSON lines otherwise."),
        click.option("-q", "--quiet", is_flag=True, expose_value=False,
                     callback=_remember("quiet"), help="Only warnings and errors."),
        click.option("-v", "--verbose", count=True, expose_value=False,
                     callback=_remember("verbosity"), help="More detail (repeatable)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command

