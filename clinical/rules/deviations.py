"""Deviations from the protocol: vitals gaps, off-protocol doses and infusion lengths.

Recorded with the session, never blocked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

from clinical._checks import require_aware
from clinical.rules.vitals import VITALS_INTERVAL, VitalsReading

DEVIATIONS_VERSION = "deviations-1"
VITALS_GAP = "vitals_gap"
DOSE_OFF_PROTOCOL = "dose_off_protocol"
INFUSION_DURATION = "infusion_duration"
DEVIATION_KINDS: tuple[str, ...] = (VITALS_GAP, DOSE_OFF_PROTOCOL, INFUSION_DURATION)
PROTOCOL_DOSE = Decimal("0.5")
DOSE_TOLERANCE = Decimal("0.1")  # +- 10 % of 0.5 mg/kg
# The seed gives both 20-minute and 40-60-minute infusions: the span of the two is accepted.
INFUSION_MIN_MINUTES = 20
INFUSION_MAX_MINUTES = 60


@dataclass(frozen=True, slots=True)
class Deviation:
    """One departure from the protocol, with what was seen."""

    kind: str
    detail: dict[str, Any]
    version: str = DEVIATIONS_VERSION

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"kind": self.kind, "detail": self.detail, "version": self.version}


def _vitals_gaps(
    started_at: datetime, infusion_minutes: int | None, readings: Sequence[VitalsReading]
) -> list[dict[str, Any]]:
    """Stretches of the infusion longer than VITALS_INTERVAL without a reading.

    The stretch is measured from the last reading at or before the start (else the start
    itself) through every reading inside the infusion to the first reading at or after its end
    (else the end itself).
    """
    if infusion_minutes is None or infusion_minutes <= 0:
        return []
    end = started_at + timedelta(minutes=infusion_minutes)
    times = sorted(r.at for r in readings)
    before = [t for t in times if t <= started_at]
    after = [t for t in times if t >= end]
    points = [
        before[-1] if before else started_at,
        *(t for t in times if started_at < t < end),
        after[0] if after else end,
    ]
    return [
        {"from": a.isoformat(), "to": b.isoformat(), "minutes": (b - a).total_seconds() / 60}
        for a, b in pairwise(points)
        if b - a > VITALS_INTERVAL
    ]


def session_deviations(
    *,
    started_at: datetime,
    ketamine_mg_per_kg: float | None,
    ketamine_infusion_minutes: int | None,
    readings: Sequence[VitalsReading],
) -> list[Deviation]:
    """The session's vitals_gap, dose_off_protocol and infusion_duration deviations."""
    require_aware("started_at", started_at)
    found: list[Deviation] = []
    gaps = _vitals_gaps(started_at, ketamine_infusion_minutes, readings)
    if gaps:
        found.append(
            Deviation(VITALS_GAP, {"gaps": gaps, "max_minutes": VITALS_INTERVAL.seconds // 60})
        )
    if ketamine_mg_per_kg is not None:
        dose = Decimal(str(ketamine_mg_per_kg))
        if abs(dose - PROTOCOL_DOSE) > PROTOCOL_DOSE * DOSE_TOLERANCE:
            found.append(
                Deviation(
                    DOSE_OFF_PROTOCOL,
                    {"mg_per_kg": ketamine_mg_per_kg, "protocol": 0.5, "tolerance_percent": 10},
                )
            )
    if ketamine_infusion_minutes is not None and not (
        INFUSION_MIN_MINUTES <= ketamine_infusion_minutes <= INFUSION_MAX_MINUTES
    ):
        found.append(
            Deviation(
                INFUSION_DURATION,
                {
                    "minutes": ketamine_infusion_minutes,
                    "min": INFUSION_MIN_MINUTES,
                    "max": INFUSION_MAX_MINUTES,
                },
            )
        )
    return found
