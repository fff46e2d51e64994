"""What a person sees during a run: a live rich display on a TTY; otherwise nothing
here, because every event is already one structlog JSON line."""

from __future__ import annotations

import math
import sys
from typing import Any

from deployer.core.record import RunRecord
from deployer.plan.durations import format_duration

BAR = 30


def say(message: str, *, err: bool = False) -> None:
    """Print a line while a run may be on screen. The live display captures
    sys.stdout/sys.stderr and prints such lines above itself; click.echo goes to the
    terminal behind its back and tears the display (a stale frame stays behind)."""
    print(message, file=sys.stderr if err else sys.stdout, flush=True)


class QuietObserver:
    def event(self, record: RunRecord, message: str) -> None:
        pass

    def tick(self, record: RunRecord, remaining: float | None) -> None:
        pass

    def close(self) -> None:
        pass


class LiveProgress:
    """Phase, weight bar, time left in the current wait, alarm states, recent events."""

    def __init__(self, steps_total: int) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(stderr=False)
        self.steps_total = steps_total
        self.remaining: float | None = None
        self.record: RunRecord | None = None
        # redirect_*: lines printed during the run (say(), log lines) go above the display.
        self.live = Live(console=self.console, refresh_per_second=4, transient=False,
                         redirect_stdout=True, redirect_stderr=True)
        self.live.start()

    def event(self, record: RunRecord, message: str) -> None:
        self.record = record
        self.remaining = None
        self.live.update(self._render())

    def tick(self, record: RunRecord, remaining: float | None) -> None:
        self.record = record
        self.remaining = remaining
        self.live.update(self._render())

    def close(self) -> None:
        if self.record is not None:
            self.live.update(self._render())
        self.live.stop()

    def _render(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        record = self.record
        assert record is not None
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        target = record.target
        legs = target.get("targets") if target.get("kind") == "multi" else None
        if legs is None:
            what = f"{target.get('function', target.get('kind'))}:{target.get('alias', '')}"
            table.add_row("run", f"{record.run_id}  ({what}, "
                                 f"{target.get('stable_version')} -> "
                                 f"{target.get('new_version')})")
        else:
            table.add_row("run", f"{record.run_id}  ({len(legs)} targets)")
        phase = record.phase.value + (f" / {record.stage}" if record.stage else "")
        table.add_row("phase", phase)
        weight = record.weight or 0.0
        filled = round(weight / 100 * BAR)
        bar = Text("█" * filled, style="green") + Text("░" * (BAR - filled), style="dim")
        table.add_row("new version", bar + Text(f" {weight:g}%"))
        for index, wave in enumerate((target.get("waves") or []) if legs else [], start=1):
            for name in wave:
                leg = legs.get(name, {}) if legs else {}
                share = leg.get("weight") or 0.0
                cells = round(share / 100 * BAR)
                table.add_row(f"  w{index} {name}",
                              Text("█" * cells, style="green")
                              + Text("░" * (BAR - cells), style="dim")
                              + Text(f" {share:g}%  {leg.get('stable_version')} -> "
                                     f"{leg.get('new_version')}"))
        if self.steps_total:
            table.add_row("step", f"{min(record.step_index + 1, self.steps_total)}/"
                                  f"{self.steps_total}")
        from deployer.display.window_text import window_lines

        for line in window_lines(record.window, record.window_override):
            table.add_row("window", Text(line, style="yellow"))
        if self.remaining is not None and record.window is None:
            left = format_duration(math.ceil(self.remaining))
            if record.time_scale != 1:
                left += f" (plan time; running {record.time_scale:g}x faster)"
            table.add_row("time left", left)
        if record.alarms:
            table.add_row("alarms", ", ".join(
                f"[{'red' if s == 'ALARM' else 'green' if s == 'OK' else 'yellow'}]{n}: {s}[/]"
                for n, s in record.alarms.items()))
        from deployer.display.analysis_text import analysis_lines

        for number, line in enumerate(analysis_lines(record.analysis, record.inconclusive)):
            verdict = line.split(":", 1)[0].rsplit(" ", 1)[-1]
            style = {"FAIL": "red", "PASS": "green"}.get(verdict, "yellow")
            table.add_row("analysis" if number == 0 else "", Text(line, style=style))
        for event in record.events[-4:]:
            table.add_row(event.at[11:19], event.message)
        if record.outcome is not None:
            table.add_row("outcome", f"{record.outcome.value} (exit {record.exit_code})"
                          + (f": {record.reason}" if record.reason else ""))
        return table
