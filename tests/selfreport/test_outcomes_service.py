"""services.outcomes: the one-query prior totals and the incremental summary."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from clinical.outcomes import summarize
from services import outcomes
from services.runtime import Runtime
from store.reports import Phq9Checkin
from tests.support.world import World

TOTAL = st.integers(0, 27)


@given(baseline=st.none() | TOTAL, prior=st.lists(TOTAL, max_size=6), total=TOTAL)
def test_summary_after_equals_the_full_summary(
    baseline: int | None, prior: list[int], total: int
) -> None:
    best = min(prior) if prior else None
    assert outcomes.summary_after(baseline=baseline, best_before=best, total=total) == (
        summarize(baseline=baseline, totals=[*prior, total])
    )


def test_prior_totals_in_answered_order(rt: Runtime, world: World) -> None:
    now = rt.clock.now()
    with rt.database.unit_of_work() as session:
        # Stored out of order: ids do not follow answered times.
        for total, hours_ago in ((9, 1), (14, 30), (6, 5), (11, 50)):
            at = now - timedelta(hours=hours_ago)
            session.add(
                Phq9Checkin(
                    patient_id=world.patient_a,
                    clinic_id=world.clinic_x,
                    answers=[0] * 9,
                    total=total,
                    prorated=False,
                    answered_count=9,
                    severity="mild",
                    item9=0,
                    flags=[],
                    instrument_version="phq9-1",
                    rules_version="rules-1",
                    answered_at=at,
                    received_at=now,
                )
            )
    with rt.database.session() as session:
        prior = outcomes.prior_totals(session, patient_id=world.patient_a, before=now)
        assert prior == outcomes.PriorTotals(previous=9, first=11, best=6)
        earlier = outcomes.prior_totals(
            session, patient_id=world.patient_a, before=now - timedelta(hours=10)
        )
        assert earlier == outcomes.PriorTotals(previous=14, first=11, best=11)
        none = outcomes.prior_totals(session, patient_id=world.patient_b, before=now)
        assert none == outcomes.PriorTotals(previous=None, first=None, best=None)
