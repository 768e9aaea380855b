"""The escalation timer job: it owns the unit of work and the batching, as views do requests."""

from __future__ import annotations

from services import escalations
from services.runtime import Runtime


def advance_unacknowledged(rt: Runtime, *, max_batches: int = 50) -> int:
    """Advance every timed-out escalation, one transaction a batch; returns how many moved."""
    total = 0
    for _ in range(max_batches):
        with rt.database.unit_of_work() as session:
            moved = escalations.advance_due(session, now=rt.clock.now())
        total += moved
        if moved < escalations.ADVANCE_BATCH:
            break
    return total
