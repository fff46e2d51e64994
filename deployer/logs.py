"""structlog, configured once per process: console lines on a TTY, JSON lines otherwise."""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO, cast

import structlog

_configured = False


def configure_logging(log_format: str = "auto", verbosity: int = 0) -> None:
    """Idempotent; `log_format` is auto | console | json (SPEC §3)."""
    global _configured  # noqa: PLW0603 - structlog's configuration is process-wide anyway
    if _configured:
        return
    _configured = True
    use_console = log_format == "console" or (log_format == "auto" and sys.stderr.isatty())
    level = logging.INFO - 10 * verbosity
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if use_console
        else structlog.processors.JSONRenderer(sort_keys=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(max(level, logging.DEBUG)),
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, _CurrentStderr())),
        cache_logger_on_first_use=True,
    )


class _CurrentStderr:
    """sys.stderr as it is at each write, not at configuration: while the live display
    runs it is rich's proxy, which prints log lines above the display instead of
    through it."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def get_logger(**bound: Any) -> Any:
    return structlog.get_logger("deployer").bind(**bound)
