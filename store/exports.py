"""FHIR Bulk Data export jobs: who asked, for which clinic, and the snapshot time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base
from store.types import JsonType


class ExportJob(Base):
    """One $export request. Its files are streamed from the database when downloaded, up to
    `transaction_time`, so a job needs no file storage and its memory use stays constant."""

    __tablename__ = "fhir_export_jobs"

    # A random, unguessable id: it is also the status URL.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    request_url: Mapped[str] = mapped_column(String(2000))
    types: Mapped[list[Any]] = mapped_column(JsonType)
    since: Mapped[datetime | None]
    transaction_time: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_fhir_export_jobs_requested_by", "requested_by"),)
