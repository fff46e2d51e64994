"""The live display on a real terminal: the CLI runs under a pseudo-terminal and its
output is replayed on a VT100 emulator (pyte), so the test sees the screen a person
would see once the run has ended."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import time

import pyte

from tests.conftest import ROOT

COLUMNS, ROWS = 120, 200  # tall enough that nothing scrolls off the emulated screen


def run_on_a_terminal(*args: str, timeout: float = 90) -> list[str]:
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS),
           "LINES": str(ROWS)}
    env.pop("AWS_ENDPOINT_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "deployer", *args], stdin=follower,
                               stdout=follower, stderr=follower, cwd=ROOT, env=env,
                               close_fds=True)
    os.close(follower)
    screen = pyte.Screen(COLUMNS, ROWS)
    stream = pyte.ByteStream(screen)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        stream.feed(chunk)
    os.close(leader)
    assert process.wait(timeout=10) == 0
    return [line.rstrip() for line in screen.display]


def test_the_final_state_replaces_the_live_one_once() -> None:
    lines = run_on_a_terminal("demo", "--scenario", "rollback", "--time-scale", "60")
    phases = [line for line in lines if line.startswith("phase ")]
    assert phases == ["phase        ROLLED_BACK"], "\n".join(lines)
    assert len([line for line in lines if line.startswith("run  ")]) == 1
    assert len([line for line in lines if line.startswith("outcome      rolled_back")]) == 1
    # A line printed during the run stands above the display, whole.
    alarm = [i for i, line in enumerate(lines) if line.startswith(">>> the new version")]
    assert len(alarm) == 1
    assert alarm[0] < lines.index(phases[0])
