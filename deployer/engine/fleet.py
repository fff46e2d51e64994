"""A whole application as one traffic target (SPEC §8): N target legs in waves.

The controller drives a Fleet as it drives one target. A shift writes every leg of
the current wave in parallel (a bounded pool) and reads every one back; a reading
says where every leg that has had traffic is; a rollback restores every such leg,
all waves, in parallel, and only then reports the ones it could not restore. Waves
before the current one are at 100%, waves after it are untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from deployer.core.ports import TrafficReading, TrafficTarget, VersionSeries
from deployer.errors import DeployerError, Drift, PlanError, PreflightError, TargetError

WORKERS = 16   # parallel AWS writes per wave (the client's connection pool matches it)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FleetLeg:
    name: str
    wave: int
    target: TrafficTarget


class Fleet:
    def __init__(self, legs: Sequence[FleetLeg], waves: list[list[str]],
                 state: dict[str, Any] | None = None) -> None:
        self.legs = {leg.name: leg for leg in legs}
        self.waves = waves
        state = state or {}
        self.wave: int = int(state.get("wave", 0))
        self.weights: dict[str, float | None] = {
            name: (state.get("targets") or {}).get(name, {}).get("weight")
            for name in self.legs}
        self.done: set[str] = set(state.get("already_done", ()))
        self._pool = ThreadPoolExecutor(max_workers=min(WORKERS, max(1, len(legs))),
                                        thread_name_prefix="leg")

    # ------------------------------------------------------------ which legs

    def _wave_legs(self, index: int) -> list[FleetLeg]:
        return [self.legs[name] for name in self.waves[index]]

    def _moving(self) -> list[FleetLeg]:
        """The current wave's legs that this run releases."""
        return [leg for leg in self._wave_legs(self.wave) if leg.name not in self.done]

    def _touched(self) -> list[FleetLeg]:
        """Every leg of this and earlier waves that this run releases."""
        return [leg for index in range(self.wave + 1) for leg in self._wave_legs(index)
                if leg.name not in self.done]

    def _each(self, legs: Sequence[FleetLeg], action: Callable[[FleetLeg], T]
              ) -> tuple[dict[str, T], dict[str, DeployerError]]:
        """`action` on every leg in parallel; results and failures by leg name. Every
        leg is attempted whatever the others do."""
        futures = {leg.name: self._pool.submit(action, leg) for leg in legs}
        results: dict[str, T] = {}
        failures: dict[str, DeployerError] = {}
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except DeployerError as exc:
                failures[name] = exc
        return results, failures

    @staticmethod
    def _raise(failures: dict[str, DeployerError], what: str) -> None:
        """One error naming every failing leg, of the first failure's kind (drift stays
        drift, a refusal stays a refusal, an unhealthy version stays a check failure)."""
        if not failures:
            return
        text = "; ".join(f"target {name}: {exc.message}" for name, exc in failures.items())
        first = next(iter(failures.values()))
        if isinstance(first, Drift):
            raise Drift(f"drift: {text}")
        if isinstance(first, PlanError):
            raise TargetError(f"{what}: {text}")
        raise type(first)(text if isinstance(first, PreflightError) else f"{what}: {text}",
                          hint=first.hint)

    # ------------------------------------------------------------ identity

    def describe(self) -> dict[str, Any]:
        targets = {}
        for name, leg in self.legs.items():
            described = leg.target.describe()
            weight = self.weights.get(name)
            if weight is None and name in self.done:
                weight = 100.0
            elif weight is None:  # never read yet: preflight found it unsplit, at 0
                weight = 0.0
            targets[name] = {**described, "wave": leg.wave + 1, "weight": weight}
        return {"kind": "multi", "waves": self.waves, "wave": self.wave,
                "already_done": sorted(self.done), "targets": targets}

    def hook_context(self) -> dict[str, str]:
        legs = self._wave_legs(self.wave)
        context = {"DEPLOYER_TARGET": "multi", "DEPLOYER_WAVE": str(self.wave + 1),
                   "DEPLOYER_WAVES": str(len(self.waves)),
                   "DEPLOYER_TARGETS": ",".join(leg.name for leg in legs)}
        import json

        context["DEPLOYER_TARGETS_JSON"] = json.dumps(
            {leg.name: leg.target.hook_context() for leg in legs}, sort_keys=True)
        return context

    # ------------------------------------------------------------ preflight, prepare

    def preflight(self, *, resuming: bool) -> None:
        _, failures = self._each(list(self.legs.values()),
                                 lambda leg: leg.target.preflight(resuming=resuming))
        self._raise(failures, "preflight")
        if not resuming:
            self.done = {name for name, leg in self.legs.items() if leg.target.already_done()}

    def already_done(self) -> bool:
        return self.done == set(self.legs)

    def prepare(self) -> None:
        _, failures = self._each(self._moving(), lambda leg: leg.target.prepare())
        self.done |= {leg.name for leg in self._moving() if leg.target.already_done()}
        self._raise(failures, "prepare")

    def partly_shifted(self, before: float, requested: float) -> bool:
        """After a crash mid-shift: every leg of the current wave reads either the weight
        before the shift or the one requested (the write landed on some legs only)."""
        readings, failures = self._each(self._moving(), lambda leg: leg.target.read())
        return not failures and all(r.new_weight in (before, requested)
                                    for r in readings.values())

    def next_wave(self) -> bool:
        """Move on to the next wave; False after the last one."""
        if self.wave + 1 >= len(self.waves):
            return False
        self.wave += 1
        return True

    # ------------------------------------------------------------ traffic

    def read(self) -> TrafficReading:
        readings, failures = self._each(self._touched(), lambda leg: leg.target.read())
        self._raise(failures, "read")
        for name, reading in readings.items():
            self.weights[name] = reading.new_weight
        moving = {leg.name for leg in self._moving()}
        earlier_whole = all(readings[name].new_weight == 100 for name in readings
                            if name not in moving)
        current = {readings[name].new_weight for name in moving}
        share = current.pop() if len(current) == 1 and earlier_whole else None
        if not moving and earlier_whole:
            share = 100.0  # every leg of this wave already served the new version
        detail = "; ".join(f"{name}: {readings[name].detail}" for name in readings)
        return TrafficReading(share, detail,
                              legs={name: r.new_weight for name, r in readings.items()})

    def shift(self, weight: float) -> TrafficReading:
        """Every leg of the wave written and read back (each target's own shift reads
        back); the earlier waves are not read again here: the drift reads watch them."""
        readings, failures = self._each(self._moving(), lambda leg: leg.target.shift(weight))
        for name, reading in readings.items():
            self.weights[name] = reading.new_weight
        self._raise(failures, f"shift to {weight:g}%")
        detail = "; ".join(f"{name}: {r.detail}" for name, r in readings.items())
        return TrafficReading(weight if readings else 100.0, detail,
                              legs={n: r.new_weight for n, r in readings.items()})

    def drifted(self, expected: float) -> set[str]:
        """Legs that someone else changed: a fresh reading that is not what this run set
        (`expected` on the current wave, 100% on earlier ones)."""
        moving = {leg.name for leg in self._moving()}
        readings, failures = self._each(self._touched(), lambda leg: leg.target.read())
        changed = set(failures)
        for name, reading in readings.items():
            self.weights[name] = reading.new_weight
            wanted = expected if name in moving else 100.0
            if reading.new_weight is None or abs(reading.new_weight - wanted) > 0.01:
                changed.add(name)
        return changed

    def rollback(self, skip: set[str] | frozenset[str] = frozenset()) -> TrafficReading:
        """Every leg that had traffic back on stable, in parallel, each read back; legs
        in `skip` (changed by someone else) are left alone."""
        legs = [leg for leg in self._touched() if leg.name not in skip]
        readings, failures = self._each(legs, lambda leg: leg.target.rollback())
        for name, reading in readings.items():
            self.weights[name] = reading.new_weight
        if failures:
            split = ", ".join(sorted(failures))
            raise TargetError(f"every other target was restored, but {split} "
                              f"{'is' if len(failures) == 1 else 'are'} left as they were: "
                              + "; ".join(f"target {n}: {e.message}"
                                          for n, e in failures.items()))
        detail = "; ".join(f"{name}: {r.detail}" for name, r in readings.items())
        return TrafficReading(0.0, detail, legs={n: r.new_weight for n, r in readings.items()})

    def retire_old(self) -> None:
        _, failures = self._each([leg for leg in self.legs.values() if leg.name not in self.done],
                                 lambda leg: leg.target.retire_old())
        self._raise(failures, "retire the old versions")

    def discard_new(self) -> None:
        _, failures = self._each(self._touched(), lambda leg: leg.target.discard_new())
        self._raise(failures, "discard the new versions")

    def restore_stable(self) -> None:
        _, failures = self._each(list(self.legs.values()),
                                 lambda leg: leg.target.restore_stable())
        self._raise(failures, "restore the stable versions")

    # ------------------------------------------------------------ analysis

    def metric_series(self) -> VersionSeries:
        raise TargetError("a whole application is judged target by target")

    def metric_subjects(self, at_full: bool) -> list[tuple[str, VersionSeries, bool]]:
        """Every leg that has had traffic: earlier waves at 100% (absolute bounds only),
        the current wave at its weight."""
        moving = {leg.name for leg in self._moving()}
        return [(leg.name, leg.target.metric_series(), at_full or leg.name not in moving)
                for leg in self._touched()]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def new_versions(target: dict[str, Any]) -> str:
    """The new version of a target record, or of each target of the current wave."""
    legs = target.get("targets")
    if legs is None:
        return str(target.get("new_version"))
    wave = [name for name, leg in legs.items() if leg.get("wave") == target.get("wave", 0) + 1]
    return ", ".join(f"{name} {legs[name].get('new_version')}" for name in wave)
