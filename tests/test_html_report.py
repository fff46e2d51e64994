"""The HTML report (SPEC §12) of real runs through the CLI against a moto server: one
self-contained page (no script, no fetch) whose chart's points are the read-back
weights of the record's events, for a succeeded, a rolled-back and a multi-target run."""

from __future__ import annotations

import itertools
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from deployer.demo.world import LambdaWorld, create_lambda_world
from tests.e2e import Cli, finish, wait_until

NAMES = (f"page{i}" for i in itertools.count())


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def parse(path: Path) -> tuple[Page, str]:
    text = path.read_text()
    page = Page()
    page.feed(text)
    return page, text


def self_contained(page: Page, text: str) -> None:
    assert not page.all("script") and not page.all("link") and not page.all("img")
    assert not re.search(r"""(src|href)=["']?https?:""", text)


def plan(tmp_path: Path, world: LambdaWorld, strategy: str) -> str:
    path = tmp_path / f"{world.function}.yaml"
    path.write_text(f"""\
version: 1
name: {world.function}
target:
  lambda: {{function: {world.function}, alias: live, version: "{world.new}"}}
strategy: {{{strategy}}}
checks: {{alarms: [{world.alarms[0]}], poll_every: 5s}}
""")
    return str(path)


def event_weights(report: dict[str, Any]) -> list[float]:
    return [float(e["weight"]) for e in report["events"] if e["weight"] is not None]


def test_a_succeeded_run(endpoint: str, tmp_path: Path, cli: Cli) -> None:
    name = next(NAMES)
    world = create_lambda_world(endpoint, function=name, alarms=(f"{name}-errors",))
    html = tmp_path / "run.html"
    code, _, err = finish(cli.rollout(plan(tmp_path, world, "linear: {step: 50, every: 1m}"),
                                      "--report-html", str(html)))
    assert code == 0, err
    page, text = parse(html)
    self_contained(page, text)
    (line,) = page.all("polyline")
    report = cli.report_document()
    assert [float(w) for w in (line["data-weights"] or "").split(",")] == event_weights(report)
    ys = [float(p.split(",")[1]) for p in (line["points"] or "").split()]
    assert min(ys) < max(ys)  # the chart climbs from 0 to 100
    kinds = [g["data-kind"] for g in page.all("g")]
    assert kinds.count("shift") == 2 and "bake" in kinds
    assert "succeeded" in text and report["run_id"] in text
    again = tmp_path / "again.html"
    result = cli.run("report", report["run_id"], "--html", str(again))
    assert result.returncode == 0, result.stderr
    assert again.read_text() == text


def test_a_rolled_back_run_marks_the_alarm_and_the_rollback(endpoint: str, tmp_path: Path,
                                                           cli: Cli) -> None:
    name = next(NAMES)
    world = create_lambda_world(endpoint, function=name, alarms=(f"{name}-errors",))
    process = cli.rollout(plan(tmp_path, world, "canary: {weight: 10, bake: 30m}"))
    wait_until(lambda: world.alias_state()[1] != {})
    world.set_alarm(world.alarms[0], "ALARM")
    assert finish(process)[0] == 3
    report = cli.report_document()
    html = tmp_path / "rolled.html"
    assert cli.run("report", report["run_id"], "--html", str(html)).returncode == 0
    page, text = parse(html)
    self_contained(page, text)
    kinds = [g["data-kind"] for g in page.all("g")]
    assert "rollback" in kinds
    (line,) = page.all("polyline")
    weights = [float(w) for w in (line["data-weights"] or "").split(",")]
    assert weights == event_weights(report) and weights[-1] == 0 and 10 in weights
    assert f"alarm {world.alarms[0]} is in ALARM" in text


def test_a_whole_application_has_a_line_per_target(endpoint: str, tmp_path: Path,
                                                   cli: Cli) -> None:
    a, b = (create_lambda_world(endpoint, function=next(NAMES), alarms=(f"{next(NAMES)}-e",))
            for _ in range(2))
    path = tmp_path / "app.yaml"
    path.write_text(f"""\
version: 1
name: pages
targets:
  a: {{lambda: {{function: {a.function}, alias: live, version: "{a.new}"}}}}
  b: {{lambda: {{function: {b.function}, alias: live, version: "{b.new}"}}}}
waves: [[a], [b]]
strategy: {{canary: {{weight: 10, bake: 1m}}}}
checks: {{alarms: [{a.alarms[0]}], poll_every: 5s}}
""")
    html = tmp_path / "app.html"
    code, _, err = finish(cli.rollout(str(path), "--report-html", str(html), scale="30"))
    assert code == 0, err
    page, text = parse(html)
    self_contained(page, text)
    lines = {line["data-target"]: [float(w) for w in (line["data-weights"] or "").split(",")]
             for line in page.all("polyline")}
    assert set(lines) == {"a", "b"}
    # a reaches 100 in wave 1 while b is still at 0; both end at 100
    first_b_move = next(i for i, w in enumerate(lines["b"]) if w > 0)
    assert lines["a"][first_b_move] == 100
    assert lines["a"][-1] == lines["b"][-1] == 100
