"""The analysis verdict (SPEC §7) as one JSONata expression, for the Step Functions
engine (SPEC §11b): the same tests as checks/verdict.py, on the same numbers, with the
same verdicts — a parity test (tests/test_verdicts_jsonata.py) holds them together.

Step Functions' JSONata (2.0.6) has `$sqrt` and `$power` but no log, exp or erf, so:
- the score test compares its z with the one-sided 95% normal quantile, a constant;
- the exact conditional test sums the binomial tail in the machine, each term a ratio
  of its neighbour, relative to the term at the observed count (no factorials, no
  overflow: a lower part beyond 1e250 times that term is a verdict already); above
  EXACT_LIMIT errors it takes the normal approximation with continuity correction;
- Welch's t-test compares t with the 95% quantile of Student's t at the data's
  (fractional) degrees of freedom, read from a table of 1/df computed when compiling
  (step 0.001, linear between points: within 1e-5 of the exact quantile).

`verdict_functions` defines `$judge($new, $stable, $atFull)` for the machine's poll
(stepfunctions/analysis.py), where SIDE is `{"requests", "errors", "minutes": [{"v":
average ms, "n": requests}]}`; it gives `{METRIC: {"verdict": "pass" | "fail" |
"inconclusive", "why": TEXT, "bound"?: TEXT}}`. `verdict_expression` wraps it for the
parity test: it reads `$states.input.judge`, `{"subjects": {NAME: {"new": SIDE,
"stable": SIDE}}, "atFull": bool}`.
"""

from __future__ import annotations

import json
from functools import lru_cache
from statistics import NormalDist

from deployer.checks.verdict import t_sf
from deployer.plan.model import ChecksSpec

Z_95 = NormalDist().inv_cdf(0.95)
EXACT_LIMIT = 5000   # errors in the window: beyond, the binomial tail is approximated
T_STEP = 0.001       # the t table's step in 1/df
HUGE = 1e250         # the lower part of the tail beyond which p is below any level


def t_quantile(df: float) -> float:
    """The t with P(T > t) = 0.05 at `df` degrees of freedom (bisection on the very
    survival function the local engine uses)."""
    low, high = 0.0, 700.0
    for _ in range(100):
        middle = (low + high) / 2
        if t_sf(middle, df) > 0.05:
            low = middle
        else:
            high = middle
    return (low + high) / 2


@lru_cache(maxsize=1)
def t_table() -> tuple[float, ...]:
    """95% quantiles of Student's t at 1/df = 0, T_STEP, 2*T_STEP, ..., 1."""
    steps = round(1 / T_STEP)
    return (Z_95, *(t_quantile(1 / (k * T_STEP)) for k in range(1, steps + 1)))


def verdict_expression(checks: ChecksSpec) -> str:
    """The JSONata expression judging every subject of `$states.input.judge` (the
    parity test's entry point; the machine uses `verdict_functions` inside its poll)."""
    return ("{% (" + verdict_functions(checks) + """
  $input := $states.input.judge;
  $atFull := $input.atFull = true;
  $merge($each($input.subjects, function($s, $name) {
    {$name: $judge($s.new, $s.stable, $atFull)} }))
) %}""")


def verdict_functions(checks: ChecksSpec) -> str:
    """JSONata definitions ending with `$judge($new, $stable, $atFull)`, which gives
    `{METRIC: {"verdict", "why", "bound"?}}` by the plan's bounds (constants here). The
    texts are the local engine's, except that a relative fail says "significant at 95%"
    where the local one gives its p-value (the machine compares with a critical value
    and never computes p)."""
    metrics = checks.metrics
    assert metrics is not None
    judged = []
    code = STATISTICS
    if metrics.error_rate is not None:
        judged.append('"error_rate": $errorRate($new, $stable, $atFull)')
        code += _error_rate(metrics.error_rate.max, metrics.error_rate.max_vs_stable)
    if metrics.latency is not None:
        judged.append('"latency": $latency($new, $stable, $atFull)')
        latency = metrics.latency
        code += _latency(None if latency.max is None else latency.max * 1000,
                         latency.max_vs_stable)
    code = code.replace("MIN_REQUESTS", str(checks.min_requests)) \
        .replace("Z_95", repr(Z_95)).replace("EXACT_LIMIT", str(EXACT_LIMIT)) \
        .replace("HUGE", repr(HUGE)).replace("T_STEP", repr(T_STEP)) \
        .replace("T_TABLE", json.dumps(list(t_table()), separators=(",", ":")))
    return code + "\n  $judge := function($new, $stable, $atFull) { {" + ", ".join(judged) \
        + "} };"


def _fail(why: str, bound: str) -> str:
    return json.dumps({"verdict": "fail", "why": why, "bound": bound})


def _error_rate(max_rate: float | None, ratio: float | None) -> str:
    """`$errorRate` as checks/verdict.py's judge_error_rate, branch for branch."""
    lines = ['$new.requests < MIN_REQUESTS ? $few("new", $new.requests) :']
    if max_rate is not None:
        lines.append(f"100 * $new.errors / $new.requests > {max_rate!r} ? "
                     f"{_fail(f'above max {max_rate:g}%', f'max {max_rate:g}%')} :")
    if ratio is not None:
        lines += ["$atFull ? $pass :",
                  '$stable.requests < MIN_REQUESTS ? $few("stable", $stable.requests) :',
                  f"($scoreRejects($new.errors, $new.requests, $stable.errors, "
                  f"$stable.requests, {ratio!r}) and $exactRejects($new.errors, "
                  f"$new.requests, $stable.errors, $stable.requests, {ratio!r})) ? "
                  + _fail(f"more than {ratio:g}x stable's (significant at 95%)",
                          f"max_vs_stable {ratio:g}x") + " :"]
    lines.append("$pass")
    return ("\n  $errorRate := function($new, $stable, $atFull) {(\n    "
            + "\n    ".join(lines) + "\n  )};")


def _latency(max_ms: float | None, ratio: float | None) -> str:
    """`$latency` as checks/verdict.py's judge_latency, branch for branch."""
    lines = ["$newMean := $weighted($new);", "$stableMean := $weighted($stable);",
             '($new.requests < MIN_REQUESTS or $newMean = null) ? '
             '$few("new", $new.requests) :']
    if max_ms is not None:
        lines.append(f"$newMean > {max_ms!r} ? "
                     f"{_fail(f'above max {max_ms:g}ms', f'max {max_ms:g}ms')} :")
    if ratio is not None:
        lines += ["$atFull ? $pass :",
                  '($stable.requests < MIN_REQUESTS or $stableMean = null) ? '
                  '$few("stable", $stable.requests) :',
                  "($count($values($new)) < 2 or $count($values($stable)) < 2) ? "
                  + json.dumps({"verdict": "inconclusive", "why": "fewer than 2 minutes "
                                "with latency data on each side"}) + " :",
                  f"($welchRejects($values($new), $values($stable), {ratio!r}) and "
                  f"$newMean > {ratio!r} * $stableMean) ? "
                  + _fail(f"more than {ratio:g}x stable's (significant at 95%)",
                          f"max_vs_stable {ratio:g}x") + " :"]
    lines.append("$pass")
    return ("\n  $latency := function($new, $stable, $atFull) {(\n    "
            + "\n    ".join(lines) + "\n  )};")


# JSONata 2.0.6 (no `??`, no `?:`, no $eval; Step Functions refuses a bare `$` or `$$`):
# the tests and helpers both metrics use.
STATISTICS = """
  $pass := {"verdict": "pass", "why": "within bounds"};
  $few := function($which, $requests) { {"verdict": "inconclusive",
    "why": "the " & $which & " version has " & $string($requests)
           & " requests in the window, fewer than min_requests MIN_REQUESTS"} };
  $scoreRejects := function($xn, $nn, $xs, $ns, $r) {(
    $a := ($nn + $ns) * $r;
    $b := -($nn * $r + $xn + $ns + $xs * $r);
    $c := $xn + $xs;
    $disc := $b * $b - 4 * $a * $c;
    $restricted := (-$b - $sqrt($disc < 0 ? 0 : $disc)) / (2 * $a);
    $rn := $r * $restricted > 1 ? 1 : $r * $restricted;
    $var := $rn * (1 - $rn) / $nn + $r * $r * $restricted * (1 - $restricted) / $ns;
    $diff := $xn / $nn - $r * $xs / $ns;
    $var <= 0 ? $diff > 0 : $diff / $sqrt($var) > Z_95
  )};
  $exactRejects := function($xn, $nn, $xs, $ns, $r) {(
    $n := $xn + $xs;
    $p := $r * $nn / ($r * $nn + $ns);
    $q := 1 - $p;
    $xn = 0 or $xn <= $n * $p ? false :
    $n > EXACT_LIMIT ? ($xn - 0.5 - $n * $p) / $sqrt($n * $p * $q) > Z_95 :
    (
      $upper := $xn >= $n ? 1 : $reduce([$xn..($n - 1)], function($acc, $k) {(
        $next := $acc.term * ($n - $k) / ($k + 1) * $p / $q;
        {"term": $next, "sum": $acc.sum + $next}
      )}, {"term": 1, "sum": 1}).sum;
      $lower := $reduce([0..($xn - 1)], function($acc, $i) {(
        $k := $xn - $i;
        $acc.sum > HUGE ? $acc :
        ( $next := $acc.term * $k / ($n - $k + 1) * $q / $p;
          {"term": $next, "sum": $acc.sum + $next} )
      )}, {"term": 1, "sum": 0}).sum;
      19 * $upper < $lower
    )
  )};
  $weighted := function($side) {(
    $used := $side.minutes[n > 0];
    $weight := $sum($used.n);
    $weight > 0 ? $sum($used.(v * n)) / $weight : null
  )};
  $values := function($side) { $append([], $side.minutes[n > 0].v) };
  $mean := function($xs) { $sum($xs) / $count($xs) };
  $variance := function($xs) {(
    $m := $mean($xs);
    $sum($map($xs, function($x) { ($x - $m) * ($x - $m) })) / ($count($xs) - 1)
  )};
  $tTable := T_TABLE;
  $tQuantile := function($df) {(
    $u := 1 / $df;
    $i := $floor($u / T_STEP);
    $i >= $count($tTable) - 1 ? $tTable[$count($tTable) - 1] : (
      $w := $u / T_STEP - $i;
      $tTable[$i] * (1 - $w) + $tTable[$i + 1] * $w
    )
  )};
  $welchRejects := function($new, $stable, $r) {(
    $scaled := $map($stable, function($v) { $v * $r });
    $vn := $variance($new) / $count($new);
    $vo := $variance($scaled) / $count($scaled);
    $diff := $mean($new) - $mean($scaled);
    $vn + $vo = 0 ? $diff > 0 : (
      $t := $diff / $sqrt($vn + $vo);
      $df := ($vn + $vo) * ($vn + $vo)
             / ($vn * $vn / ($count($new) - 1) + $vo * $vo / ($count($scaled) - 1));
      $t > 0 and $t > $tQuantile($df)
    )
  )};"""
