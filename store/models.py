"""SQLAlchemy models: the one place that knows Tandem's tables."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from clinical.calendar import DEFAULT_MAINTENANCE_INTERVAL_DAYS, Phase
from store.types import JsonType, UTCDateTime


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JsonType}


class Role(StrEnum):
    """Who a user is to Tandem (stored, and carried in tokens, as its string)."""

    ADMIN = "admin"
    CLINICIAN = "clinician"
    PATIENT = "patient"


ROLES = tuple(Role)


class Clinic(Base):
    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    # Paging policy and rule thresholds the clinic chose; defaults fill the gaps.
    escalation_policy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    escalation_rules: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    # `tandem demo`'s clinic: its people have fictional numbers, so nothing queued for it is
    # ever handed to a sender (the dispatcher records each such row as cancelled instead).
    demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    on_call_tier: Mapped[int | None] = mapped_column(Integer)
    sms_opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]
    # How this clinician wants to be paged (issue 13): [{"channel", "after_minutes"}, ...];
    # None means the v1 behaviour, an SMS at once.
    notify: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonType)

    clinic: Mapped[Clinic | None] = relationship()
    patient: Mapped[PatientProfile | None] = relationship(
        back_populates="user", foreign_keys="PatientProfile.user_id", uselist=False
    )


care_team = Table(
    "care_team",
    Base.metadata,
    Column("patient_id", ForeignKey("patients.user_id", ondelete="CASCADE"), primary_key=True),
    Column("clinician_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class PatientProfile(Base):
    __tablename__ = "patients"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    timezone: Mapped[str] = mapped_column(String(64))
    bipolar: Mapped[bool] = mapped_column(Boolean, default=False)
    weight_kg: Mapped[float] = mapped_column(Float)
    phase: Mapped[str] = mapped_column(String(16), default=Phase.ACUTE)
    # A clinician's explicit phase wins over the calendar's.
    phase_override: Mapped[str | None] = mapped_column(String(16))
    maintenance_interval_days: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_MAINTENANCE_INTERVAL_DAYS
    )
    acute_target_sessions: Mapped[int] = mapped_column(Integer, default=6)
    # When the next maintenance session falls due (kept by the calendar; indexed for the
    # overdue check so its cost follows the number due, not the number of patients).
    maintenance_due_at: Mapped[datetime | None] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(16), default="enrolled")
    enrolled_at: Mapped[datetime]
    enrolled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    baseline_phq9: Mapped[int | None] = mapped_column(Integer)
    baseline_instrument: Mapped[str | None] = mapped_column(String(8))
    baseline_score: Mapped[int | None] = mapped_column(Integer)
    activated_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="patient", foreign_keys=[user_id])
    care_team: Mapped[list[User]] = relationship(secondary=care_team, order_by="User.id")


class EligibilityScreening(Base):
    __tablename__ = "eligibility_screenings"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    screened_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Null when the screening was ineligible: no patient account is created then.
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    answers: Mapped[dict[str, Any]]
    eligible: Mapped[bool] = mapped_column(Boolean)
    unmet: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rules_version: Mapped[str] = mapped_column(String(32))
    screened_at: Mapped[datetime]


class ActivationCode(Base):
    __tablename__ = "activation_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class AuthSession(Base):
    """One login: its access and refresh tokens carry this id, so logout revokes both."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class AuthFailure(Base):
    """Failed login or activation attempts, counted across processes for throttling."""

    __tablename__ = "auth_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime]

    __table_args__ = (Index("ix_auth_failures_scope_key_at", "scope", "key", "at"),)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(128))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(300))
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_user_key"),)


class OutboxMessage(Base):
    """An SMS to send, written in the same transaction as the change that causes it."""

    __tablename__ = "sms_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    to_number: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    escalation_id: Mapped[int | None] = mapped_column(Integer, index=True)
    escalation_tier: Mapped[int | None] = mapped_column(Integer)
    # Unique per purpose and subject, so no scheduler can queue the same message twice.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    twilio_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    error_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    # How the row goes out (issue 13): "sms" (to_number), "voice" (a call to to_number) or
    # "pager" (an Events API post to target); one outbox, one retry policy for all three.
    channel: Mapped[str] = mapped_column(String(8), default="sms", server_default="sms")
    target: Mapped[str | None] = mapped_column(Text)

    attempts_log: Mapped[list[SmsAttempt]] = relationship(
        back_populates="message", order_by="SmsAttempt.id"
    )

    __table_args__ = (Index("ix_sms_outbox_due", "status", "next_attempt_at"),)


class SmsAttempt(Base):
    """Every send attempt and every delivery status callback for an outbox message."""

    __tablename__ = "sms_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("sms_outbox.id"), index=True)
    at: Mapped[datetime]
    event: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(32))
    twilio_sid: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(Text)

    message: Mapped[OutboxMessage] = relationship(back_populates="attempts_log")


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Whose data was read or changed (GET /api/v1/audit?patient_id=), and the actor's role
    # when it happened (a role can change later). No foreign key: the trail outlives rows.
    patient_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_role: Mapped[str | None] = mapped_column(String(16))


class TimerLease(Base):
    """Who runs the timers now: one row per lease, renewed by its holder's heartbeat.

    Every Tandem process can lead; ``role`` says whether a dedicated scheduler or an API
    process (a takeover) holds it, and ``handback_requested_at`` is a scheduler asking an
    API holder to step down.
    """

    __tablename__ = "timer_leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    # Bumped at every change of holder, so a stale leader can tell it was replaced.
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    acquired_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    handback_requested_at: Mapped[datetime | None]


class JobRun(Base):
    """The last success of each timer job, whichever process ran it (for /metrics)."""

    __tablename__ = "job_runs"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_success_at: Mapped[datetime]
    holder: Mapped[str] = mapped_column(String(200))


# The other model modules register their tables on Base's metadata when imported.
import store.oncall  # noqa: E402, F401
from store import escalations, exports, reports, schedule  # noqa: E402, F401
