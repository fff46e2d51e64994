"""structlog is configured once per process: JSON lines unless asked for console."""

from __future__ import annotations

import json
import subprocess
import sys

SNIPPET = """
from deployer.logs import configure_logging, get_logger
configure_logging({fmt!r})
configure_logging("console")  # a second call changes nothing
get_logger(run_id="r-1").info("shifted", weight=10)
"""


def _stderr(fmt: str) -> str:
    return subprocess.run([sys.executable, "-c", SNIPPET.format(fmt=fmt)], capture_output=True,
                          text=True, check=True).stderr


def test_auto_off_a_tty_is_json_lines() -> None:
    (line,) = _stderr("auto").splitlines()
    event = json.loads(line)
    assert event["event"] == "shifted"
    assert event["run_id"] == "r-1"
    assert event["weight"] == 10
    assert event["level"] == "info"
    assert event["timestamp"].endswith("Z")


def test_console_is_human_text() -> None:
    (line,) = _stderr("console").splitlines()
    assert "shifted" in line and "weight=10" in line
    assert not line.startswith("{")
