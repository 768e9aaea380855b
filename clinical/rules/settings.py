"""The clinic's escalation thresholds: their defaults and the safety floors that bound them.

Every threshold lives in EscalationRules so a clinic can override it; its bounds are the
safety floors (a clinic may be stricter than the default, never looser).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from clinical._checks import is_strict_int
from clinical.calendar import MAINTENANCE_GRACE_DAYS
from clinical.errors import InvalidInput
from clinical.symptoms import SEVERE

# Second version (December 2026): safety floors, relapse confirmed on a second total, worsening
# against the baseline too, item 9 skipped judged by the total, live vitals. Stored flags and
# escalations keep the version they were made under.
RULES_VERSION = "rules-2"


def _bounds(low: int, high: int) -> dict[str, Any]:
    return {"bounds": (low, high)}


@dataclass(frozen=True, slots=True)
class EscalationRules:
    """Every escalation threshold; defaults are the product's, clinics may override any."""

    # Bounds are the safety floors: a clinic may be stricter than the default, never looser.
    # Item 9 >= 1 is always at least high and >= 2 always urgent; the same for suicidal_thoughts.
    item9_urgent: int = field(default=2, metadata=_bounds(1, 2))
    item9_high: int = field(default=1, metadata=_bounds(1, 1))
    item9_with_total_urgent_total: int = field(default=20, metadata=_bounds(0, 20))
    suicidal_thoughts_urgent: int = field(default=2, metadata=_bounds(1, 2))
    suicidal_thoughts_high: int = field(default=1, metadata=_bounds(1, 1))
    asrm_cutoff: int = field(default=6, metadata=_bounds(1, 6))
    severe_depression_total: int = field(default=20, metadata=_bounds(1, 27))
    worsening_points: int = field(default=5, metadata=_bounds(1, 27))
    relapse_min_total: int = field(default=10, metadata=_bounds(1, 27))
    systolic_limit: int = field(default=180, metadata=_bounds(90, 180))
    diastolic_limit: int = field(default=110, metadata=_bounds(50, 110))
    maintenance_grace_days: int = field(default=MAINTENANCE_GRACE_DAYS, metadata=_bounds(0, 28))
    adverse_symptom_level: int = field(default=SEVERE, metadata=_bounds(1, 3))
    # Live monitoring (rules-2). Pre-dose care threshold: the esketamine label's 140/90.
    pre_dose_warn_systolic: int = field(default=140, metadata=_bounds(90, 140))
    pre_dose_warn_diastolic: int = field(default=90, metadata=_bounds(50, 90))
    heart_rate_low: int = field(default=50, metadata=_bounds(50, 80))
    heart_rate_high: int = field(default=120, metadata=_bounds(80, 120))
    spo2_low: int = field(default=92, metadata=_bounds(92, 99))
    # Readings every 15 minutes (seed) plus 5 minutes' grace before the clinician is texted.
    vitals_overdue_minutes: int = field(default=20, metadata=_bounds(5, 20))
    # The acute pace is 3 a week: more than this many days without a session breaks it.
    acute_gap_days: int = field(default=4, metadata=_bounds(1, 4))
    # Item 9 skipped: high when the total reaches this, or the re-ask goes unanswered.
    item9_skipped_high_total: int = field(default=15, metadata=_bounds(0, 15))
    # Eligibility: baseline severity at least moderate (a clinic may require more).
    eligibility_min_phq9: int = field(default=10, metadata=_bounds(10, 27))
    eligibility_min_madrs: int = field(default=20, metadata=_bounds(20, 60))

    def __post_init__(self) -> None:
        errors = _check_rules({f.name: getattr(self, f.name) for f in fields(self)})
        if errors:
            raise InvalidInput(errors)

    @classmethod
    def from_mapping(cls, data: object, *, path: str = "") -> EscalationRules:
        """Defaults overridden by `data`; unknown keys and bad values raise InvalidInput."""
        prefix = f"{path}." if path else ""
        if not isinstance(data, Mapping):
            raise InvalidInput({path or "rules": ["Expected an object of rule settings."]})
        known = {f.name for f in fields(cls)}
        errors: dict[str, list[str]] = {
            f"{prefix}{key}": ["Unknown setting."] for key in data if key not in known
        }
        merged: dict[str, object] = {
            **cls().as_dict(),
            **{k: v for k, v in data.items() if k in known},
        }
        errors.update({f"{prefix}{k}": m for k, m in _check_rules(merged).items()})
        if errors:
            raise InvalidInput(errors)
        return cls(**merged)  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, int]:
        """JSON-ready form."""
        return asdict(self)


def _check_rules(values: Mapping[str, object]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for f in fields(EscalationRules):
        low, high = f.metadata["bounds"]
        value = values.get(f.name)
        if not is_strict_int(value) or not low <= value <= high:
            errors[f.name] = [
                f"Must be an integer from {low} to {high} (the default is {f.default}; "
                "safety floors allow stricter settings only)."
            ]
    pairs = (("item9_high", "item9_urgent"), ("suicidal_thoughts_high", "suicidal_thoughts_urgent"))
    for lower, upper in pairs:
        a, b = values.get(lower), values.get(upper)
        checkable = lower not in errors and upper not in errors
        if checkable and is_strict_int(a) and is_strict_int(b) and a > b:
            errors[lower] = [f"Must not be greater than {upper} ({b})."]
    return errors


DEFAULTS = EscalationRules()
