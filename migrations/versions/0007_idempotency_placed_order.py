"""idempotency keys record the order placed under them, not the HTTP answer it was given

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08

A key completed from now on keeps the order as placed (its request with its placement, the
workflow's input as JSON) and the trace it was placed in; the API renders its answer from
them. Keys completed before keep the answer as it was sent (status_code, response,
location) and are replayed from it until they expire.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("placed_order", sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(sa.Column("trace_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    # Keys completed since the upgrade lose what their answer is rendered from: a retry with
    # one is then answered 500 (the code before this revision finds no stored answer), never
    # a second order, for the order id stays taken.
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_column("trace_id")
        batch_op.drop_column("placed_order")
