"""parcels, backorders, cancellation, sourcing decisions, stock receipts, centre capacity,
and the stock invariant as a check: on_hand = available + reserved + shipped

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The capacity of centres recorded before capacities existed (the domain's default then);
# the next seed writes each centre's own figure from its network description.
DEFAULT_CAPACITY_PER_HOUR = "40.0"

# Every allocation recorded so far becomes a parcel: shipped if its FC shipped it, else reserved.
BACKFILL_PARCELS = """
INSERT INTO parcels (order_id, fc_id, state)
SELECT DISTINCT a.order_id, a.fc_id,
       CASE WHEN EXISTS (
           SELECT 1 FROM shipments s WHERE s.order_id = a.order_id AND s.fc_id = a.fc_id
       ) THEN 'shipped' ELSE 'reserved' END
FROM allocations a
"""


def upgrade() -> None:
    with op.batch_alter_table("stock", schema=None) as batch_op:
        batch_op.create_check_constraint(op.f("ck_stock_shipped_not_negative"), "shipped >= 0")
        batch_op.create_check_constraint(
            op.f("ck_stock_balanced"), "on_hand = available + reserved + shipped"
        )

    # Only columns are added to the tables others refer to: on SQLite, batch mode would copy
    # them, and dropping the original breaks the foreign keys of rows already there.
    with op.batch_alter_table("fulfilment_centres", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "capacity_per_hour",
                sa.Float(),
                server_default=DEFAULT_CAPACITY_PER_HOUR,
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("handling_hours", sa.JSON(), nullable=True))

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sourcing", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("backordered_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "parcels",
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("fc_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.CheckConstraint(
            "state IN ('reserved', 'shipped', 'released')", name=op.f("ck_parcels_known_state")
        ),
        sa.ForeignKeyConstraint(
            ["fc_id"], ["fulfilment_centres.id"], name=op.f("fk_parcels_fc_id_fulfilment_centres")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.order_id"], name=op.f("fk_parcels_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("order_id", "fc_id", name=op.f("pk_parcels")),
    )
    op.create_index("ix_parcels_fc_id_state", "parcels", ["fc_id", "state"], unique=False)
    op.execute(BACKFILL_PARCELS)
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_allocations_parcel", "parcels", ["order_id", "fc_id"], ["order_id", "fc_id"]
        )

    op.create_table(
        "stock_receipts",
        sa.Column("receipt_id", sa.String(length=100), nullable=False),
        sa.Column("fc_id", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=32), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_stock_receipts_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["fc_id", "sku"], ["stock.fc_id", "stock.sku"], name="fk_stock_receipts_stock"
        ),
        sa.PrimaryKeyConstraint("receipt_id", name=op.f("pk_stock_receipts")),
    )


def downgrade() -> None:
    op.drop_table("stock_receipts")

    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_constraint("fk_allocations_parcel", type_="foreignkey")
    op.drop_index("ix_parcels_fc_id_state", table_name="parcels")
    op.drop_table("parcels")

    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not batch mode: see upgrade().
    for table, column in (
        ("orders", "closed_at"),
        ("orders", "backordered_until"),
        ("orders", "sourcing"),
        ("fulfilment_centres", "handling_hours"),
        ("fulfilment_centres", "capacity_per_hour"),
    ):
        op.drop_column(table, column)

    with op.batch_alter_table("stock", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_stock_balanced"), type_="check")
        batch_op.drop_constraint(op.f("ck_stock_shipped_not_negative"), type_="check")
