"""Deployment windows in the state machine (SPEC §14).

The machine does no calendar arithmetic: `rollout` gives it the plan's closed
stretches (allow/deny, in UTC milliseconds, each with why and when it next opens)
from the start until the deadline (at most WINDOW_HORIZON), and the machine reads
its change calendars with `aws-sdk:ssm:getCalendarState` before each shift. One
JSONata state (`judge_expression`) decides: open, or closed with why, when it opens
and how long to Wait — until the opening, or until the next poll when the release
already has traffic (its checks are watched while it holds), or the idle poll
(operator requests) before the first shift. A hold is bounded by the history
budget (`allowance`, in polls): past it the run rolls back, never dies mid-way.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from deployer.plan.model import ReleasePlan

WINDOW_HORIZON = timedelta(days=35)  # how far ahead the machine is told the windows
IDLE_HOLD_POLL = 300.0  # plan seconds between looks while nothing has traffic yet
ISO_PICTURE = "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01]Z"  # as the record writes times


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def window_input(plan: ReleasePlan, started: datetime, time_scale: float,
                 allowance: int) -> dict[str, Any] | None:
    """The execution input's `windows`: closed stretches, the horizon, the calendars."""
    spec = plan.windows
    if spec is None:
        return None
    horizon = started + WINDOW_HORIZON
    if plan.deadline is not None:  # the run ends by its deadline: no need to look further
        horizon = min(horizon, started + timedelta(seconds=plan.deadline / time_scale))
    spans = spec.schedule().closed_spans(started, horizon) if spec.allow or spec.deny else []
    return {
        "spans": [{"from": _ms(first), "to": _ms(last), "why": why,
                   "opens": _ms(opens) if opens is not None else None}
                  for first, last, why, opens in spans],
        "until": _ms(horizon),
        "calendars": ", ".join(spec.change_calendars),
        "idle": max(1, math.ceil(IDLE_HOLD_POLL / time_scale)),
        "allowance": allowance,
    }


def judge_expression(first_shift: int) -> str:
    """$states.input + {"win": {open, why, opens, sleep, shown, holding}}: `first_shift`
    is the table position of the run's first shift (nothing has traffic before it)."""
    return """{% (
  $in := $states.input;
  $w := $in.windows;
  $now := $toMillis($states.context.State.EnteredTime);
  $spanAt := function($t) { $filter($w.spans, function($s) { $s.from <= $t and $t < $s.to })[0] };
  $span := $spanAt($now);
  $cal := $in.wcal;
  $calError := $exists($cal.error);
  $calClosed := $cal.state = "CLOSED";
  $beyond := $now >= $w.until;
  $over := $exists($in.run.override.by);
  $whys := $filter([
    $calError ? "cannot read change calendar " & $w.calendars & ": " & $cal.error : "",
    $calClosed ? "change calendar " & $w.calendars & " is CLOSED" : "",
    $exists($span) and $not($calError) ? $span.why : "",
    $beyond ? "the deployment windows were computed until " & $fromMillis($w.until, "PICTURE") &
      "; release again" : ""], function($v) { $v != "" });
  $closed := $count($whys) > 0;
  $why := $closed ? $join($whys, "; ") : "";
  $calOpens := $calError ? -1 :
    ($calClosed ? ($exists($cal.next) ? $toMillis($cal.next) : -1) : $now);
  $own := $exists($span) ? ($type($span.opens) = "number" ? $span.opens : -1) : $now;
  $after := ($calOpens = -1 or $own = -1 or $beyond) ? -1 : $max([$calOpens, $own]);
  $later := $spanAt($after);
  $opens := $after = -1 ? -1 : ($exists($later) ?
    ($type($later.opens) = "number" ? $later.opens : -1) : $after);
  $pollMs := ($in.pos.at = FIRST ? $w.idle : $in.run.poll) * 1000;
  $wake := ($opens = -1 or $opens <= $now) ? $now + $pollMs : $min([$opens, $now + $pollMs]);
  $opensText := $opens = -1 ? null : $fromMillis($opens, "PICTURE");
  $merge([$in, {"win": {
    "open": $over or $not($closed),
    "goOn": $over ? "the deployment window is overridden: going on" :
      "the deployment window is open: going on",
    "why": $why,
    "opens": $opensText,
    "sleep": $max([1, $ceil(($wake - $now) / 1000)]),
    "shown": $string({"closed_because": $why, "opens": $opensText}),
    "holding": "holding at " & $string($in.cur.weight) & "%: the deployment window is closed (" &
      $why & "); " & ($opens = -1 ? "no opening known; " : "it opens " & $opensText & "; ") &
      "checks are still watched"
  }}])
) %}""".replace("FIRST", str(first_shift)).replace("PICTURE", ISO_PICTURE)
