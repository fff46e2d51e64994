"""`deployer report RUN_ID --html FILE` (SPEC §12): one self-contained page for a run —
header, targets, the chart of read-back weights with its marks, analysis, events.
Inline CSS and SVG, no script, no fetch; light and dark; printable. Jinja2 renders it
(the `dashboard` extra), with autoescaping on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deployer.display.chart import chart_of
from deployer.plan.durations import format_duration

COLOURS = ("#1a7f37", "#8250df", "#bf3989", "#0969da", "#9a6700", "#cf222e")


def render_report(document: dict[str, Any]) -> str:
    try:
        import jinja2
    except ImportError:
        from deployer.errors import UsageError

        raise UsageError("the HTML report needs Jinja2: pip install 'deployer-aws[dashboard]'"
                         ) from None
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined)
    chart = chart_of(document)
    targets = targets_of(document)
    analysis = _flat(document.get("analysis") or {})
    run = {key: document.get(key) for key in (
        "run_id", "plan_name", "outcome", "phase", "reason", "exit_code", "started_at",
        "ended_at", "weight", "time_scale")}
    run["warnings"] = list(document.get("warnings") or [])
    run["window"] = document.get("window")
    run["window_override"] = document.get("window_override")
    run["events"] = [{"at": e.get("at"), "phase": e.get("phase"), "weight": e.get("weight"),
                      "message": e.get("message")} for e in document.get("events", [])]
    return environment.get_template("report.html.j2").render(
        run=run, targets=targets, chart=chart, analysis=analysis, colours=COLOURS,
        duration=format_duration(chart.seconds), seconds=format_duration(chart.seconds))


def _flat(analysis: dict[str, Any]) -> list[tuple[str, Any]]:
    rows = []
    for key, entry in analysis.items():
        if "verdict" in entry:
            rows.append((key, _entry(entry)))
        else:
            rows += [(f"{key} {metric}", _entry(e)) for metric, e in entry.items()]
    return rows


def _entry(entry: dict[str, Any]) -> dict[str, Any]:
    blank = {"value": None, "requests": 0}
    return {"verdict": entry.get("verdict"), "new": {**blank, **(entry.get("new") or {})},
            "stable": {**blank, **(entry.get("stable") or {})}}


def write_report_html(document: dict[str, Any], path: str) -> None:
    from deployer.errors import DeployerError

    try:
        Path(path).write_text(render_report(document), encoding="utf-8")
    except OSError as exc:
        raise DeployerError(f"cannot write the HTML report to {path}: {exc.strerror}") from exc


def targets_of(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target of a run's document, with every field the targets table shows
    (a one-target run is named after its plan)."""
    targets = document.get("targets") or {document.get("plan_name", "target"):
                                          {**(document.get("target") or {}),
                                           "weight": document.get("weight"), "wave": None}}
    for target in targets.values():
        for field in ("wave", "stable_version", "new_version", "region", "account"):
            target.setdefault(field, None)
        target.setdefault("kind", "?")
    return dict(targets)
