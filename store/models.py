"""Tables of the app database. The schema is owned by the Alembic revisions in migrations/."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every database; SQLite keeps no zone, so it is restored on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class FulfilmentCentreRow(Base):
    __tablename__ = "fulfilment_centres"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    region: Mapped[str] = mapped_column(String(50))
    country: Mapped[str] = mapped_column(String(2))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    central: Mapped[bool] = mapped_column(default=False)
    # Orders picked per simulated hour; the default is for rows written before capacities.
    capacity_per_hour: Mapped[float] = mapped_column(Float, server_default="40.0")
    # Simulated hours of handling per order type: {"standard": 1.0, ...}.
    handling_hours: Mapped[dict[str, float] | None] = mapped_column(JSON(none_as_null=True))


class ProductRow(Base):
    __tablename__ = "products"

    sku: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class StockRow(Base):
    """Units of one SKU at one FC. Invariant: on_hand = available + reserved + shipped."""

    __tablename__ = "stock"
    __table_args__ = (
        CheckConstraint("available >= 0", name="available_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("shipped >= 0", name="shipped_not_negative"),
        CheckConstraint("on_hand = available + reserved + shipped", name="balanced"),
    )

    fc_id: Mapped[str] = mapped_column(ForeignKey("fulfilment_centres.id"), primary_key=True)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer)
    available: Mapped[int] = mapped_column(Integer)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    shipped: Mapped[int] = mapped_column(Integer, default=0)


class OrderRow(Base):
    __tablename__ = "orders"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    order_type: Mapped[str] = mapped_column(String(20))
    mode: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), index=True)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    destination_country: Mapped[str] = mapped_column(String(2))
    destination_postal_code: Mapped[str] = mapped_column(String(16))
    destination_lat: Mapped[float] = mapped_column(Float)
    destination_lon: Mapped[float] = mapped_column(Float)
    speedup: Mapped[float] = mapped_column(Float)
    promised_hours: Mapped[float | None] = mapped_column(Float)
    promised_delivery_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    allocated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Simulated hours of each phase, written by the step that ends it (domain/timings.py).
    order_hours: Mapped[float | None] = mapped_column(Float)
    shipping_hours: Mapped[float | None] = mapped_column(Float)
    delivery_hours: Mapped[float | None] = mapped_column(Float)
    # The sourcing decision and its reason, as the policy explained it (JSON-ready).
    sourcing: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    backordered_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the order was cancelled or failed and its unshipped stock returned.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The trace the order was placed in (W3C trace id, 32 hex digits), when traced.
    trace_id: Mapped[str | None] = mapped_column(String(32))


class WorkflowOutboxRow(Base):
    """Orders the API accepted whose workflow is yet to be started: a transactional outbox.

    A row is written in the same transaction as its order and deleted once the workflow is
    started; the relay (workflows/relay.py) leases rows so that replicas share the work.
    """

    __tablename__ = "workflow_outbox"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.order_id"), primary_key=True)
    # The workflow's input (activities.messages.OrderRequest, as JSON).
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # A relay is starting it until then; after, another relay may.
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    # W3C traceparent of the request that accepted the order, so its workflow joins the trace.
    traceparent: Mapped[str | None] = mapped_column(String(64))


class KeyState(StrEnum):
    IN_FLIGHT = "in_flight"  # a request holds the key until `locked_until`
    COMPLETED = "completed"  # its final answer is stored, to be replayed


class IdempotencyKeyRow(Base):
    """An `Idempotency-Key` of POST /orders and the final answer given for it.

    The order id is chosen when the key is first locked, so that a retry after a crash in
    any window reuses it and finds the order (or its workflow) the first attempt made.
    """

    __tablename__ = "idempotency_keys"

    # Whose key: keys of different callers never meet (api/idempotency.py).
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # sha256 (hex) of the canonical JSON of the validated request body.
    request_hash: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(64))
    # The token of the request that holds the key now (store/idempotency.py); '' on rows
    # written before revision 0006, which no request holds any more.
    holder: Mapped[str] = mapped_column(String(32), server_default="")
    state: Mapped[str] = mapped_column(String(16))
    # Completed: the order placed under the key (the workflow's input, an
    # activities.messages.OrderRequest with its placement, as JSON) and the trace it was
    # placed in, from which the API renders the key's answer (api/idempotency.py).
    placed_order: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    trace_id: Mapped[str | None] = mapped_column(String(32))
    # Completed before revision 0007: the answer as it was sent, replayed as it is.
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    location: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class OrderLineRow(Base):
    __tablename__ = "order_lines"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.order_id"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(Integer)


class ParcelState(StrEnum):
    RESERVED = "reserved"  # its units are reserved at the FC, waiting to be shipped
    SHIPPED = "shipped"
    RELEASED = "released"  # the order was cancelled or failed first; its units went back


class ParcelRow(Base):
    """What one order takes from one FC. Every write of an order's stock locks its parcels."""

    __tablename__ = "parcels"
    __table_args__ = (
        CheckConstraint("state IN ('reserved', 'shipped', 'released')", name="known_state"),
        # The backlog of a centre is a count of its reserved parcels: read on every allocation.
        Index("ix_parcels_fc_id_state", "fc_id", "state"),
    )

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.order_id"), primary_key=True)
    fc_id: Mapped[str] = mapped_column(ForeignKey("fulfilment_centres.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))


class AllocationRow(Base):
    """Units of one SKU of an order in its parcel from one FC."""

    __tablename__ = "allocations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["order_id", "fc_id"],
            ["parcels.order_id", "parcels.fc_id"],
            name="fk_allocations_parcel",
        ),
    )

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.order_id"), primary_key=True)
    fc_id: Mapped[str] = mapped_column(ForeignKey("fulfilment_centres.id"), primary_key=True)
    sku: Mapped[str] = mapped_column(String(32), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)


class ShipmentRow(Base):
    """One parcel from one FC; the unique (order, FC) pair is what stops a double shipment."""

    __tablename__ = "shipments"
    __table_args__ = (UniqueConstraint("order_id", "fc_id", name="uq_shipments_order_fc"),)

    shipment_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.order_id"), index=True)
    fc_id: Mapped[str] = mapped_column(ForeignKey("fulfilment_centres.id"))
    dispatched_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReceiptRow(Base):
    """Units received into one FC's stock; the receipt id makes a repeated receipt a no-op."""

    __tablename__ = "stock_receipts"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        ForeignKeyConstraint(
            ["fc_id", "sku"], ["stock.fc_id", "stock.sku"], name="fk_stock_receipts_stock"
        ),
    )

    receipt_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    fc_id: Mapped[str] = mapped_column(String(32))
    sku: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SurveyRow(Base):
    __tablename__ = "surveys"
    __table_args__ = (
        CheckConstraint("delivery_time BETWEEN 1 AND 5", name="delivery_time_range"),
        CheckConstraint("accuracy BETWEEN 1 AND 5", name="accuracy_range"),
        CheckConstraint("overall BETWEEN 1 AND 5", name="overall_range"),
    )

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.order_id"), primary_key=True)
    delivery_time: Mapped[int] = mapped_column(Integer)
    accuracy: Mapped[int] = mapped_column(Integer)
    overall: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiKeyRow(Base):
    """A key of the HTTP API. Only a hash of its secret is kept (store/api_keys.py)."""

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint("role IN ('customer', 'operator', 'carrier')", name="known_role"),
        # A customer key is bound to one customer; the other roles act for nobody in particular.
        CheckConstraint(
            "(role = 'customer') = (customer_id IS NOT NULL)", name="customer_iff_customer_role"
        ),
    )

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the secret, hex
    role: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
