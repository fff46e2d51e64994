"""Version-aware analysis in the state machine (SPEC §7, §11b): at every poll one
`cloudwatch:getMetricData` reads every subject's two versions (the current wave's
targets and every earlier wave's, as the local engine's Fleet judges them), and the
same state's Output judges them with `verdicts.py` and writes what the local engine
keeps: the verdicts and their numbers (`an.doc`, the record's `analysis`), the first
fail as the rollback reason, the inconclusive reasons, and an event when a verdict
changes.

Both the call's Arguments and its Output are JSONata (2.0.6: no `??`, no `?:`); the
rest of the machine stays JSONPath. What the expressions read from the execution
input is `analysis` (`analysis_input`): each subject's wave, labels and CloudWatch
series, so a poll knows by `$.step.e.wave` which subjects are in play and by
`$.cur.weight` whether the current wave is at 100% (only `max` bounds then).

Windows are real time as on the local engine: the trailing `window` of whole minutes,
the current minute included, ending at the state's EnteredTime.
"""

from __future__ import annotations

import json
from typing import Any

from deployer.checks.analysis import BATCH, PERIOD
from deployer.core.ports import MetricSeries, VersionSeries
from deployer.plan.model import ChecksSpec
from deployer.stepfunctions.asl import CHECK_FAILED, State, retry
from deployer.stepfunctions.verdicts import verdict_functions

# What a poll asks for when no target of an account is in play (never answered).
NOTHING = {"Id": "nothing", "ReturnData": True, "MetricStat": {
    "Metric": {"Namespace": "deployer/none", "MetricName": "none"}, "Period": PERIOD,
    "Stat": "Sum"}}
MAX_QUERIES = BATCH        # GetMetricData's limit per call: one call per poll
MAX_DATAPOINTS = 100_800   # per call; beyond, AWS pages the answer


def analysis_input(subjects: list[tuple[str, int, VersionSeries]], single: bool,
                   roles: dict[str, str] | None = None) -> dict[str, Any]:
    """The execution input's `analysis`: (name, wave, series) of every target this run
    releases, in wave order; `roles`: the target role of those in another account."""
    roles = roles or {}
    return {"single": single, "subjects": [
        {"name": name, "wave": wave, "new": _side(pair.new), "stable": _side(pair.stable),
         "role": roles.get(name)}
        for name, wave, pair in subjects]}


def _side(series: MetricSeries) -> dict[str, Any]:
    return {"label": series.label, "ident": series.ident, "namespace": series.namespace,
            "dimensions": [{"Name": k, "Value": v} for k, v in series.dimensions],
            "requests": series.requests, "errors": series.errors, "latency": series.latency,
            "scale": series.latency_to_ms}


def kinds(checks: ChecksSpec) -> list[str]:
    """The series read per version: requests always, errors and latency when judged."""
    metrics = checks.metrics
    assert metrics is not None
    return ["requests", *(["errors"] if metrics.error_rate is not None else []),
            *(["latency"] if metrics.latency is not None else [])]


def queries_per_poll(checks: ChecksSpec, subjects: int) -> int:
    return 2 * subjects * len(kinds(checks))


def measure_states(checks: ChecksSpec, prefix: str, next_state: str,
                   on_error: str | None, roles: list[str] | None = None) -> dict[str, State]:
    """`{prefix}Measure`: read and judge. An AWS error (after the retries) or a JSONata
    error is the check failing (`analysis: cannot read metrics: ...`); `on_error` None
    fails the branch the poll runs in (the gate's watch), else goes there.

    With targets in other accounts (`roles`, SPEC §13) one call reads one account: the
    machine's own, then each role's (`{prefix}MeasureAs0`, ... with that role's
    Credentials) keep their answers in `mr`, and `{prefix}Judged` judges them all."""
    unreadable = f"{prefix}Unreadable"
    failed: State = ({"Type": "Pass", "Next": on_error} if on_error is not None else
                     {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"})
    if not roles:
        return {f"{prefix}Measure": _measure(checks, None, _judged(checks), unreadable,
                                             next_state), unreadable: failed}
    places: list[str | None] = [None, *roles]
    names = [f"{prefix}Measure", *(f"{prefix}MeasureAs{i}" for i in range(len(roles)))]
    states: dict[str, State] = {unreadable: failed}
    for index, (place, name) in enumerate(zip(places, names, strict=True)):
        kept = ("{% $merge([$states.input, {'mr': $merge([$exists($states.input.mr) ? "
                "$states.input.mr : {}, {'p" + str(index) + "': {'MetricDataResults': "
                "$states.result.MetricDataResults, 'NextToken': $states.result.NextToken}}])}])"
                " %}")
        later = names[index + 1] if index + 1 < len(names) else f"{prefix}Judged"
        states[name] = _measure(checks, place, kept, unreadable, later)
        if place is not None:
            states[name]["Credentials"] = {"RoleArn": place}
    answers = ", ".join(f"$in.mr.p{i}" for i in range(len(places)))
    tokens = ", ".join(f"$in.mr.p{i}.NextToken" for i in range(len(places)))
    merged = ("$merge([{'MetricDataResults': $reduce([" + answers + "], function($acc, $p) "
              "{ $append($acc, $append([], $p.MetricDataResults)) }, [])}, $count([" + tokens
              + "]) > 0 ? {'NextToken': 'more'} : {}])")
    states[f"{prefix}Judged"] = {
        "Type": "Pass", "QueryLanguage": "JSONata", "Next": next_state,
        "Output": _judged(checks, merged, drop="mr")}
    return states


def _measure(checks: ChecksSpec, role: str | None, output: str, unreadable: str,
             next_state: str) -> State:
    return {
        "Type": "Task", "QueryLanguage": "JSONata",
        "Resource": "arn:aws:states:::aws-sdk:cloudwatch:getMetricData",
        "Arguments": {"MetricDataQueries": _queries(checks, role),
                      "StartTime": "{% $fromMillis(" + _END + f" - {checks.window * 1000:.0f})"
                                   + " %}",
                      "EndTime": "{% $fromMillis(" + _END + ") %}",
                      "ScanBy": "TimestampAscending"},
        "Output": output,
        "Retry": retry("cloudwatch"),
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": unreadable, "Output": (
            "{% $merge([$states.input, {'error': {'Error': '" + CHECK_FAILED + "', "
            "'Cause': 'analysis: cannot read metrics: ' & $string($states.errorOutput.Error)"
            " & ': ' & $string($states.errorOutput.Cause)}}]) %}")}],
        "Next": next_state,
    }


# The end of the window: the current minute's end (EnteredTime in whole minutes, + 1).
_END = "($floor($toMillis($states.context.State.EnteredTime) / 60000) + 1) * 60000"

# The subjects a poll judges: every target of this wave and the waves before it.
_SUBJECTS = """$in := $states.input;
  $w := $in.step.e.wave;
  $all := $append([], $in.analysis.subjects);
  $subjects := $append([], $all[wave <= $w]);"""


def _queries(checks: ChecksSpec, role: str | None = None) -> str:
    """Version k of subject i is series `s{2i+k}`; one query per series and kind, as
    checks/analysis.py's MetricReader asks them; only the subjects of one account (the
    machine's, or `role`'s). With none in play (a first wave whose targets were all
    already done, or are in another account), a metric that does not exist is asked
    for: GetMetricData takes no empty list, and its empty answer judges nothing."""
    mine = "$s.role = " + (json.dumps(role) if role else "null")
    return "{% (" + _SUBJECTS + f"""
  $kinds := {json.dumps(kinds(checks))};
  $mine := function($s) {{ {mine} or ({"false" if role else "$not($exists($s.role))"}) }};
  $query := function($i, $side) {{ $map($kinds, function($kind) {{
    {{"Id": "s" & $i & "_" & $kind, "ReturnData": true, "MetricStat": {{
      "Metric": {{"Namespace": $side.namespace, "MetricName": $lookup($side, $kind),
                 "Dimensions": $append([], $side.dimensions)}},
      "Period": {PERIOD}, "Stat": $kind = "latency" ? "Average" : "Sum"}}}} }}) }};
  $read := $append([], $filter($map($subjects, function($s, $k) {{ {{"s": $s, "k": $k}} }}),
                                 function($p) {{ $mine($p.s) }}));
  $count($read) > 0
    ? $reduce($map($read, function($p) {{
        $append($query(2 * $p.k, $p.s.new), $query(2 * $p.k + 1, $p.s.stable)) }}),
        $append, [])
    : [{json.dumps(NOTHING)}]
) %}}"""


def _judged(checks: ChecksSpec, result: str = "$states.result", drop: str | None = None
            ) -> str:
    """The input with `an` = {fail, unsure, unsureText, doc, flat, events}, judged from
    `result` (GetMetricData's answer, or every account's answers as one); `drop`: a
    field of the input not to keep (the answers)."""
    kept = "$in" if drop is None else f"$sift($in, function($v, $k) {{ $k != '{drop}' }})"
    return ("{% (" + _SUBJECTS + f"\n  $result := {result};\n  $kept := {kept};"
            + verdict_functions(checks) + _JUDGED + " %}")


_JUDGED = """
  $now := $states.context.State.EnteredTime;
  $full := $in.cur.weight >= 100;
  $single := $in.analysis.single = true;
  $res := $append([], $result.MetricDataResults);
  $series := function($id) { $res[Id = $id] };
  $sideOf := function($i, $scale) {(
    $req := $series("s" & $i & "_requests");
    $lat := $series("s" & $i & "_latency");
    $reqT := $append([], $req.Timestamps);
    $reqV := $append([], $req.Values);
    $latV := $append([], $lat.Values);
    {"requests": $floor($sum($reqV)),
     "errors": $floor($sum($append([], $series("s" & $i & "_errors").Values))),
     "minutes": $append([], $map($append([], $lat.Timestamps), function($t, $k) {
       {"v": $latV[$k] * $scale,
        "n": $floor($sum($append([], $filter($reqV, function($v, $j) { $reqT[$j] = $t }))))}
     }))}
  )};
  $judged := $map($subjects, function($s, $k) {(
    $new := $sideOf(2 * $k, $s.new.scale);
    $stable := $sideOf(2 * $k + 1, $s.stable.scale);
    {"s": $s, "new": $new, "stable": $stable,
     "m": $judge($new, $stable, $full or $s.wave < $w)}
  )});
  $pairs := $reduce($judged, function($acc, $j) {
    $append($acc, $each($j.m, function($m, $metric) { {"j": $j, "metric": $metric, "m": $m} }))
  }, []);
  $valueOf := function($metric, $side) {
    $metric = "error_rate" ? ($side.requests > 0 ? 100 * $side.errors / $side.requests : null)
                           : $weighted($side) };
  $sideDoc := function($metric, $side, $about) {(
    $value := $valueOf($metric, $side);
    $merge([$about.ident, {"requests": $side.requests},
            $metric = "error_rate" ? {"errors": $side.errors} : {},
            {"value": $value = null ? null : $round($value, 3)}])
  )};
  $entry := function($p) { $merge([
    {"verdict": $p.m.verdict, "why": $p.m.why,
     "new": $sideDoc($p.metric, $p.j.new, $p.j.s.new),
     "stable": $sideDoc($p.metric, $p.j.stable, $p.j.s.stable), "at": $now},
    $exists($p.m.bound) ? {"bound": $p.m.bound} : {}]) };
  $named := function($p, $sep) { $single ? "" : $p.j.s.name & $sep };
  $doc := $single
    ? $merge($map($pairs, function($p) { {$p.metric: $entry($p)} }))
    : $merge($map($judged, function($j) { {$j.s.name: $merge($map(
        $filter($pairs, function($p) { $p.j.s.name = $j.s.name }),
        function($p) { {$p.metric: $entry($p)} }))} }));
  $shown := function($p, $side) {(
    $value := $valueOf($p.metric, $side);
    $value = null ? null : $p.metric = "error_rate"
      ? $formatNumber($value, "0.0") & "% (" & $side.errors & "/" & $side.requests & ")"
      : $formatNumber($value, "0") & "ms (" & $side.requests & " requests)"
  )};
  $reason := function($p) {(
    $other := $shown($p, $p.j.stable);
    "analysis: " & $named($p, ": ") & $p.metric & " of " & $p.j.s.new.label & " is "
      & $shown($p, $p.j.new)
      & ($other = null ? ", " & $p.m.why : " vs " & $other & " on " & $p.j.s.stable.label)
  )};
  $unread := $append([], $res[StatusCode = "Forbidden" or StatusCode = "InternalError"]);
  $failed := $append([], $filter($pairs, function($p) { $p.m.verdict = "fail" }));
  $fail := $count($unread) > 0
    ? "analysis: cannot read metric " & $unread[0].Id & ": " & $unread[0].StatusCode & " "
      & $join($append([], $unread[0].Messages.Value), "; ")
    : $exists($result.NextToken)
      ? "analysis: cannot read metrics: the answer came in more than one page"
      : $count($failed) > 0 ? $reason($failed[0]) : null;
  $unsureList := $append([], $map($filter($pairs, function($p) {
    $p.m.verdict = "inconclusive" }),
    function($p) { $named($p, ": ") & $p.metric & ": " & $p.m.why }));
  $unsure := $count($unsureList) > 0 ? $join($unsureList, "; ") : null;
  $flat := $join($append([], $map($pairs, function($p) {
    $named($p, ".") & $p.metric & " " & $p.m.verdict })), ", ");
  $recorded := $in.req.Item.sf_verdicts.S;
  $changed := $count($pairs) > 0 and ($not($exists($recorded)) or $recorded != $flat);
  $merge([$kept, {"an": {
    "fail": $fail, "unsure": $unsure, "unsureText": $unsure = null ? "" : $unsure,
    "doc": $string($exists($doc) ? $doc : {}), "flat": $flat,
    "events": $changed ? [{"M": {
      "at": {"S": $now}, "phase": {"S": $in.step.e.phase}, "weight": {"NULL": true},
      "message": {"S": "analysis: " & $flat & ($unsure = null ? "" : " (" & $unsure & ")")},
      "details": {"S": $string({"analysis": $merge($map($pairs, function($p) {
        {$named($p, ".") & $p.metric: $p.m.verdict} }))})}}}] : []
  }}])
)"""
