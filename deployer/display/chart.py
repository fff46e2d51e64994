"""A run as a chart (SPEC §12): each target's read-back weight over time, and the moments
that matter (shifts, bakes, approvals, analysis verdicts, alarms, the rollback), from the
record's events alone. Pure: a record document in, SVG-ready numbers out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

WIDTH, HEIGHT, LEFT, TOP, BOTTOM = 760.0, 260.0, 44.0, 16.0, 28.0
WAVE = re.compile(r"^wave (\d+) of \d+")
MARKS = (
    ("shift", re.compile(r"^shifted to ")),
    ("bake", re.compile(r"^(bake|final bake) .* started$")),
    ("approval", re.compile(r"^waiting for approval")),
    ("analysis", re.compile(r"^analysis: ")),
    ("rollback", re.compile(r"^rolling back: ")),
    ("alarm", re.compile(r"alarm .* is in (ALARM|INSUFFICIENT_DATA)")),
)


@dataclass(frozen=True, slots=True)
class Mark:
    kind: str
    x: float
    at: str
    message: str


@dataclass
class Chart:
    width: float = WIDTH
    height: float = HEIGHT
    lines: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    weights: dict[str, list[float]] = field(default_factory=dict)   # the read-back values
    marks: list[Mark] = field(default_factory=list)
    seconds: float = 0.0

    def points(self, name: str) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in self.lines[name])

    @property
    def grid(self) -> list[tuple[float, int]]:
        return [(_y(w), w) for w in (0, 25, 50, 75, 100)]

    @property
    def bottom(self) -> float:
        return self.height - BOTTOM

    @property
    def left(self) -> float:
        return LEFT


def _y(weight: float) -> float:
    return TOP + (1 - weight / 100) * (HEIGHT - TOP - BOTTOM)


def _time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def chart_of(document: dict[str, Any]) -> Chart:
    """Weights per target: a single target follows the events' weights; the targets of
    an application follow them during their own wave, 0 before it and 100 after."""
    events = [e for e in document.get("events", []) if e.get("at")]
    chart = Chart()
    if not events:
        return chart
    start = _time(document.get("started_at") or events[0]["at"])
    end = max(_time(events[-1]["at"]), start)
    chart.seconds = max((end - start).total_seconds(), 1.0)
    targets = document.get("targets")
    waves = (document.get("target") or {}).get("waves") if targets else None
    names = [n for wave in waves for n in wave] if waves else [document.get("plan_name", "")]
    wave_of = {n: i + 1 for i, wave in enumerate(waves or [[names[0]]]) for n in wave}
    current = 1
    restored = False  # after a rollback every target follows the events' weight
    last: dict[str, float] = dict.fromkeys(names, 0.0)
    for name in names:
        chart.lines[name], chart.weights[name] = [], []
    for event in events:
        x = LEFT + (_time(event["at"]) - start).total_seconds() / chart.seconds * \
            (WIDTH - LEFT - 8)
        moved = WAVE.match(event.get("message", ""))
        if moved:
            current = int(moved.group(1))
        restored = restored or event.get("message", "").startswith("traffic restored")
        for name in names:
            if event.get("weight") is None:
                continue
            if waves is None or restored or wave_of[name] == current:
                value = float(event["weight"])
            else:
                value = 100.0 if wave_of[name] < current else 0.0
            if chart.lines[name] and value != last[name]:  # a step, not a slope
                chart.lines[name].append((x, _y(last[name])))
            chart.lines[name].append((x, _y(value)))
            chart.weights[name].append(value)
            last[name] = value
        for kind, pattern in MARKS:
            if pattern.search(event.get("message", "")):
                chart.marks.append(Mark(kind, x, event["at"], event["message"]))
                break
    return chart
