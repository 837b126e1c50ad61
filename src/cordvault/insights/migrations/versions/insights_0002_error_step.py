"""insights: remember the step a job failed at (the client expects a processing step).

Revision ID: insights_0002
Revises: insights_0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "insights_0002"
down_revision = "insights_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("insights_packages") as batch:
        batch.add_column(sa.Column("error_step", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("insights_packages") as batch:
        batch.drop_column("error_step")
