"""Several checks as one (alarms and analysis): each is evaluated at every poll, the
first failure decides, and every result's states, analysis and doubts are kept."""

from __future__ import annotations

from collections.abc import Sequence

from deployer.core.ports import Check, CheckResult


class AllChecks:
    def __init__(self, checks: Sequence[Check]) -> None:
        self.checks = tuple(checks)

    def start(self) -> CheckResult:
        return _combined([c.start() for c in self.checks])

    def evaluate(self, *, at_full: bool = False) -> CheckResult:
        return _combined([c.evaluate(at_full=at_full) for c in self.checks])


def _combined(results: list[CheckResult]) -> CheckResult:
    states: dict[str, str] = {}
    for result in results:
        states.update(result.states)
    failed = next((r for r in results if not r.healthy), None)
    analysis = next((r.analysis for r in results if r.analysis is not None), None)
    doubts = [r.inconclusive for r in results if r.inconclusive]
    return CheckResult(failed is None, states, failed.reason if failed else None,
                       muted=tuple(m for r in results for m in r.muted), analysis=analysis,
                       inconclusive="; ".join(doubts) or None)
