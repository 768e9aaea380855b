"""On-call schedules: a clinic's rotations per tier and its overrides (issue 13)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base


class OnCallSchedule(Base):
    """One row per clinic: the schedule as the API received it (validated), in JSON.

    ``tiers`` maps "1".. to {"rotation": [ids], "handoff": "HH:MM", "length_days",
    "starts_on": "YYYY-MM-DD"}; ``overrides`` is {"items": [{"tier", "clinician_id",
    "start", "end"}]} with ISO 8601 UTC instants.
    """

    __tablename__ = "on_call_schedules"

    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), primary_key=True)
    tiers: Mapped[dict[str, Any]]
    overrides: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
