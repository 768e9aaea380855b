"""Flags and warnings from a session's vital-sign readings (live or back-filled).

The 180/110 blood-pressure limit is a clinic setting, not a published standard; the pre-dose
warning follows the esketamine label's 140/90.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from clinical._checks import require_aware
from clinical.rules.flags import Flag, highest_per_kind
from clinical.rules.settings import DEFAULTS, RULES_VERSION, EscalationRules
from clinical.vocabulary import Kind, Priority

# Seed: blood pressure and heart rate every 15 minutes during the infusion.
VITALS_INTERVAL = timedelta(minutes=15)

PRE_DOSE_BLOOD_PRESSURE = "pre_dose_blood_pressure"


@dataclass(frozen=True, slots=True)
class VitalsReading:
    """One blood-pressure and heart-rate reading taken during a session."""

    at: datetime
    systolic: int
    diastolic: int
    heart_rate: int | None = None
    spo2: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "at": self.at.isoformat(),
            "systolic": self.systolic,
            "diastolic": self.diastolic,
            "heart_rate": self.heart_rate,
            "spo2": self.spo2,
        }


def _hypertensive(r: VitalsReading, rules: EscalationRules) -> bool:
    return r.systolic >= rules.systolic_limit or r.diastolic >= rules.diastolic_limit


def _heart_rate_off(r: VitalsReading, rules: EscalationRules) -> bool:
    return r.heart_rate is not None and (
        r.heart_rate < rules.heart_rate_low or r.heart_rate > rules.heart_rate_high
    )


def _desaturated(r: VitalsReading, rules: EscalationRules) -> bool:
    return r.spo2 is not None and r.spo2 < rules.spo2_low


def vitals_flags(
    readings: Sequence[VitalsReading], rules: EscalationRules = DEFAULTS
) -> list[Flag]:
    """Flags from session readings: hypertension (urgent), vital_signs (high), respiratory (urgent).

    Each flag lists every reading past its limit. Used for a back-filled session (all readings
    at once) and for one live reading as it arrives (a list of one).
    """
    flags: list[Flag] = []
    offending = [r for r in readings if _hypertensive(r, rules)]
    if offending:
        evidence = {
            "readings": [r.as_dict() for r in offending],
            "systolic_limit": rules.systolic_limit,
            "diastolic_limit": rules.diastolic_limit,
            "max_systolic": max(r.systolic for r in offending),
            "max_diastolic": max(r.diastolic for r in offending),
            "rules_version": RULES_VERSION,
        }
        rule = f"vitals.systolic>={rules.systolic_limit}|diastolic>={rules.diastolic_limit}"
        flags.append(Flag(Kind.HYPERTENSION, Priority.URGENT, rule, evidence))
    pulse = [r for r in readings if _heart_rate_off(r, rules)]
    if pulse:
        evidence = {
            "readings": [r.as_dict() for r in pulse],
            "heart_rate_low": rules.heart_rate_low,
            "heart_rate_high": rules.heart_rate_high,
            "rules_version": RULES_VERSION,
        }
        rule = f"vitals.heart_rate<{rules.heart_rate_low}|heart_rate>{rules.heart_rate_high}"
        flags.append(Flag(Kind.VITAL_SIGNS, Priority.HIGH, rule, evidence))
    oxygen = [r for r in readings if _desaturated(r, rules)]
    if oxygen:
        evidence = {
            "readings": [r.as_dict() for r in oxygen],
            "spo2_low": rules.spo2_low,
            "min_spo2": min(r.spo2 for r in oxygen if r.spo2 is not None),
            "rules_version": RULES_VERSION,
        }
        flags.append(
            Flag(Kind.RESPIRATORY, Priority.URGENT, f"vitals.spo2<{rules.spo2_low}", evidence)
        )
    return highest_per_kind(flags)


def pre_dose_warnings(
    readings: Sequence[VitalsReading], *, started_at: datetime, rules: EscalationRules = DEFAULTS
) -> list[dict[str, Any]]:
    """Warnings for readings taken at or before the start that reach the pre-dose care limit.

    The esketamine label asks for care above about 140/90 before dosing: the clinician weighs
    the risk (a warning, not a block). At the hypertension limit vitals_flags() pages instead.
    """
    require_aware("started_at", started_at)
    warnings: list[dict[str, Any]] = []
    for r in readings:
        if r.at > started_at or _hypertensive(r, rules):
            continue
        if (
            r.systolic >= rules.pre_dose_warn_systolic
            or r.diastolic >= rules.pre_dose_warn_diastolic
        ):
            warnings.append(
                {
                    "code": PRE_DOSE_BLOOD_PRESSURE,
                    "at": r.at.isoformat(),
                    "detail": (
                        "Pre-dose blood pressure at or above "
                        f"{rules.pre_dose_warn_systolic}/{rules.pre_dose_warn_diastolic}: "
                        "weigh the risk before dosing."
                    ),
                    "rules_version": RULES_VERSION,
                }
            )
    return warnings
