"""on-call schedules, per-clinician notify rules, outbox channels (issue 13)

Revision ID: oncall_v2
Revises: 0fc54371b37d
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import store.types

revision: str = "oncall_v2"
down_revision: str | None = "0fc54371b37d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "on_call_schedules",
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("tiers", JSON, nullable=False),
        sa.Column("overrides", JSON, nullable=False),
        sa.Column("updated_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"]),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("clinic_id"),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notify", JSON, nullable=True))
    with op.batch_alter_table("sms_outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=8), server_default="sms", nullable=False)
        )
        batch_op.add_column(sa.Column("target", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sms_outbox", schema=None) as batch_op:
        batch_op.drop_column("target")
        batch_op.drop_column("channel")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("notify")
    op.drop_table("on_call_schedules")
