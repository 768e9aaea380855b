"""FHIR Bulk Data export jobs

Revision ID: fhir_v2
Revises: 0fc54371b37d
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import store.types

revision: str = "fhir_v2"
down_revision: str | None = "ops_v2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fhir_export_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("request_url", sa.String(length=2000), nullable=False),
        sa.Column(
            "types",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("since", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("transaction_time", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"]),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_fhir_export_jobs_requested_by", "fhir_export_jobs", ["requested_by"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_fhir_export_jobs_requested_by", table_name="fhir_export_jobs")
    op.drop_table("fhir_export_jobs")
