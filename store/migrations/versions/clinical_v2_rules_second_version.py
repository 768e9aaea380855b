"""clinical rules, second version: outcomes stored with their version, live sessions, timers

Revision ID: clinical_v2
Revises: 0fc54371b37d
Create Date: 2026-12-02 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "clinical_v2"
down_revision: str | None = "oncall_v2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("phq9_checkins", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", store.types.JsonType, nullable=True))
    with op.batch_alter_table("treatment_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="completed", nullable=False)
        )
        batch_op.add_column(
            sa.Column("ended_at", store.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("deviations", store.types.JsonType, nullable=True))
        batch_op.add_column(sa.Column("warnings", store.types.JsonType, nullable=True))
        batch_op.add_column(
            sa.Column(
                "vitals_overdue_anchor", store.types.UTCDateTime(timezone=True), nullable=True
            )
        )
    with op.batch_alter_table("vitals_readings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("spo2", sa.Integer(), nullable=True))

    op.create_table(
        "phq9_item9_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("checkin_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("item9", sa.Integer(), nullable=False),
        sa.Column("flags", store.types.JsonType, nullable=False),
        sa.Column("rules_version", sa.String(length=32), nullable=False),
        sa.Column("answered_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["checkin_id"], ["phq9_checkins.id"]),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"]),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.user_id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id"),
    )
    with op.batch_alter_table("phq9_item9_answers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_phq9_item9_answers_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "clinical_timer_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("flagged_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.user_id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("clinical_timer_marks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_clinical_timer_marks_patient_id"), ["patient_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("clinical_timer_marks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clinical_timer_marks_patient_id"))
    op.drop_table("clinical_timer_marks")
    with op.batch_alter_table("phq9_item9_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_phq9_item9_answers_patient_id"))
    op.drop_table("phq9_item9_answers")
    with op.batch_alter_table("vitals_readings", schema=None) as batch_op:
        batch_op.drop_column("spo2")
    with op.batch_alter_table("treatment_sessions", schema=None) as batch_op:
        batch_op.drop_column("vitals_overdue_anchor")
        batch_op.drop_column("warnings")
        batch_op.drop_column("deviations")
        batch_op.drop_column("ended_at")
        batch_op.drop_column("status")
    with op.batch_alter_table("phq9_checkins", schema=None) as batch_op:
        batch_op.drop_column("outcome")
