"""clinics.demo: the demo clinic, whose outbox rows are never sent (issue 16)

Revision ID: first16_v2
Revises: fhir_v2
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "first16_v2"
down_revision: str | None = "fhir_v2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clinics") as batch_op:
        batch_op.add_column(
            sa.Column("demo", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("clinics") as batch_op:
        batch_op.drop_column("demo")
