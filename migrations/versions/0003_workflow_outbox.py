"""the workflow outbox (orders accepted in the app database, workflows started after) and
each order's trace id

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workflow_outbox",
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("traceparent", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.order_id"], name=op.f("fk_workflow_outbox_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_workflow_outbox")),
    )
    op.create_index(
        op.f("ix_workflow_outbox_created_at"), "workflow_outbox", ["created_at"], unique=False
    )
    # A column added, not a table rebuilt: orders is referenced by other tables (see 0002).
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trace_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column("orders", "trace_id")
    op.drop_index(op.f("ix_workflow_outbox_created_at"), table_name="workflow_outbox")
    op.drop_table("workflow_outbox")
