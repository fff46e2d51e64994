"""Taking over a run whose controller died: the record is reconciled with what AWS
reports, never with memory (SPEC §6.4). The requested weight was saved before every
write, so a write that landed just before the crash is recognised, and anything else
is someone else's change: drift, left alone."""

from __future__ import annotations

from deployer.core.ports import TrafficReading, TrafficTarget
from deployer.core.record import Phase, RunRecord
from deployer.engine.fleet import Fleet
from deployer.engine.waits import same_weight
from deployer.errors import Drift


def reconcile(record: RunRecord, target: TrafficTarget) -> TrafficReading:
    """Where traffic is, checked against the record (updated when a write landed)."""
    target.preflight(resuming=True)
    reading = target.read()
    actual, expected = reading.new_weight, record.weight or 0.0
    if same_weight(actual, expected):
        return reading
    if record.phase in (Phase.SHIFTING, Phase.ROLLING_BACK) and \
            same_weight(actual, record.requested_weight):
        record.weight = actual  # the write went through just before the crash
        return reading
    if record.phase == Phase.SHIFTING and record.requested_weight is not None and \
            isinstance(target, Fleet) and \
            target.partly_shifted(expected, record.requested_weight):
        # The wave's write landed on some targets only: finish it, as the dead
        # controller would have.
        reading = target.shift(record.requested_weight)
        record.weight = reading.new_weight
        return reading
    if same_weight(actual, 0.0) and record.pending("abort") is not None:
        # Taken over to be aborted, and traffic is already on the stable side (an
        # emergency rollback got there first): that is the rollback done, not drift.
        record.weight = actual
        return reading
    if record.phase != Phase.ROLLING_BACK:  # a rollback goes on whatever it finds
        raise Drift(f"drift: traffic reads {reading.detail} but the run last set "
                    f"{expected:g}%; deployer left it alone")
    return reading
