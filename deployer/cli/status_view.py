"""`deployer status` / `list`: a run as text, and following a run until it ends."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import click

from deployer.core.ports import Store
from deployer.core.record import RunRecord, controller_dead, lease_alive
from deployer.display.analysis_text import analysis_lines
from deployer.display.progress import LiveProgress
from deployer.display.window_text import window_lines

SETTLE_EVERY = 5  # polls between asking AWS whether the execution still runs
WATCH_POLL_SECONDS = 1.0


def describe_target(record: RunRecord) -> str:
    target = record.target
    if target.get("kind") == "multi":
        legs = target.get("targets") or {}
        waves = target.get("waves") or []
        return (f"{len(legs)} targets in {len(waves)} wave{'s' if len(waves) != 1 else ''}, "
                f"wave {int(target.get('wave', 0)) + 1} moving")
    if target.get("kind") == "ecs" and target.get("service"):  # one service, task sets
        new = str(target.get("new_task_set") or "").rsplit("/", 1)[-1] or "?"
        old = str(target.get("stable_task_set") or "").rsplit("/", 1)[-1] or "?"
        return (f"ecs {target.get('cluster')}/{target.get('service')}: task set {old} -> "
                f"{new} ({target.get('new_version')})")
    if target.get("kind") == "asg":
        return (f"asg {target.get('stable_group')} -> {target.get('new_group')} "
                f"({target.get('new_version')})")
    if target.get("kind") == "route53":
        return (f"route53 {target.get('type')} {target.get('name')}: "
                f"{target.get('stable_version')} -> {target.get('new_version')}")
    if target.get("kind") == "ecs":
        return (f"ecs {target.get('cluster')}: {target.get('stable_service')} -> "
                f"{target.get('new_service')} ({target.get('new_version')})")
    return (f"lambda {target.get('function')}:{target.get('alias')} "
            f"{target.get('stable_version')} -> {target.get('new_version')}")


def render_text(record: RunRecord, events: int = 5) -> str:
    weight = f"{record.weight:g}%" if record.weight is not None else "unknown"
    lines = [
        f"run      {record.run_id}",
        f"target   {describe_target(record)}",
        f"phase    {record.phase.value}" + (f" / {record.stage}" if record.stage else "")
        + f"   step {record.step_index}   new version's share {weight}",
    ]
    if record.outcome is not None:
        lines.append(f"outcome  {record.outcome.value} (exit {record.exit_code})"
                     + (f": {record.reason}" if record.reason else ""))
    lines += target_lines(record)
    lines += [f"warning  {w}" for w in record.warnings]
    lines += [f"window   {line}" for line in window_lines(record.window,
                                                          record.window_override)]
    if record.alarms:
        # A state machine polls the alarms without writing each reading to the record.
        when = "at preflight: " if record.on_stepfunctions else ""
        lines.append(f"alarms   {when}" + ", ".join(f"{n} {s}" for n, s in
                                                      record.alarms.items()))
    for number, line in enumerate(analysis_lines(record.analysis, record.inconclusive)):
        lines.append(("analysis " if number == 0 else "         ") + line)
    lines.append(f"started  {record.started_at}" + (f"   ended {record.ended_at}"
                                                     if record.ended_at else ""))
    if record.on_stepfunctions:
        lines.append(f"engine   AWS Step Functions: {record.engine.get('execution_arn')}")
    if not record.terminal and record.lease:
        state = "live" if lease_alive(record) else "EXPIRED: the controller may have died"
        until = datetime.fromtimestamp(record.lease.get("expires_at", 0), UTC)
        lines.append(f"lease    {record.lease.get('owner')} until "
                     f"{until.strftime('%H:%M:%SZ')} ({state})")
    pending = [r for r in record.requests if not r.get("handled")]
    if pending:
        lines.append("pending  " + ", ".join(f"{r['action']} by {r.get('by')}" for r in pending))
    for event in record.events[-events:]:
        lines.append(f"  {event.at}  {event.phase:<17} {event.message}")
    return "\n".join(lines)


def target_lines(record: RunRecord) -> list[str]:
    """A whole application: one line per target, grouped by wave."""
    legs = record.target.get("targets") if record.target.get("kind") == "multi" else None
    if not legs:
        return []
    lines = []
    for index, wave in enumerate(record.target.get("waves") or [], start=1):
        lines.append(f"wave {index}")
        for name in wave:
            leg = legs.get(name, {})
            weight = leg.get("weight")
            shown = f"{weight:g}%" if isinstance(weight, int | float) else "?"
            where = ":".join(str(leg[k]) for k in ("account", "region") if leg.get(k))
            lines.append(f"  {name:<20} {leg.get('kind', '?'):<7} {where:<12} {shown:>6}  "
                         f"{leg.get('stable_version')} -> {leg.get('new_version')}")
    return lines


def render_row(record: RunRecord) -> str:
    weight = f"{record.weight:g}%" if record.weight is not None else "-"
    outcome = record.outcome.value if record.outcome else "-"
    row = (f"{record.run_id:<44} {record.phase.value:<17} {weight:>6}  {outcome:<11} "
           f"{describe_target(record)}")
    if controller_dead(record):
        row += (f"\n  dead: its controller's lease expired and it holds its targets; end it "
                f"with `deployer abort {record.run_id}` (rolls it back) or "
                "`deployer rollback PLAN`")
    return row


def watch(store: Store, run_id: str, live: bool,
          settle: Callable[[RunRecord], RunRecord] | None = None) -> RunRecord:
    """Follow a run until it ends: the live display on a TTY, new event lines otherwise.
    `settle` (a run on Step Functions) is asked now and then whether the executor of the
    run has ended without ending its record."""
    record = store.load(run_id)
    display = LiveProgress(steps_total=0) if live else None
    shown = 0
    polls = 0
    try:
        while True:
            polls += 1
            if settle is not None and polls % SETTLE_EVERY == 0:
                record = settle(record)
            if display is not None:
                display.tick(record, None)
            else:
                for event in record.events[shown:]:
                    click.echo(f"{event.at}  {event.phase:<17} {event.message}")
                shown = len(record.events)
            if record.terminal:
                return record
            time.sleep(WATCH_POLL_SECONDS)
            record = store.load(run_id)
    finally:
        if display is not None:
            display.close()
