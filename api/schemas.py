"""Request and response bodies: one schema per purpose, unknown fields refused, every bound set."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.orders import Mode, OrderStatus, OrderType

Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
Rating = Annotated[int, Field(ge=1, le=5, description="1 (poor) to 5 (excellent)")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LineIn(Strict):
    sku: Annotated[str, Field(min_length=1, max_length=32, examples=["SKU-0001"])]
    quantity: Annotated[int, Field(ge=1, le=10_000)]


class DestinationIn(Strict):
    country: Annotated[
        str,
        Field(
            min_length=2, max_length=2, pattern="^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2"
        ),
    ]
    postal_code: Annotated[str, Field(min_length=1, max_length=16)]
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    lon: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]

    @field_validator("country")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class BackorderIn(Strict):
    max_wait_hours: Annotated[
        float,
        Field(gt=0, le=720, allow_inf_nan=False, description="Simulated hours to wait for stock"),
    ]


class OrderCreate(Strict):
    customer_id: Identifier
    order_type: OrderType
    destination: DestinationIn
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=100)]
    backorder: BackorderIn | None = Field(
        None, description="Wait for stock instead of being rejected when none is available."
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "c-42",
                    "order_type": "standard",
                    "destination": {
                        "country": "US",
                        "postal_code": "10001",
                        "lat": 40.75,
                        "lon": -73.99,
                    },
                    "lines": [{"sku": "SKU-0001", "quantity": 2}],
                }
            ]
        },
    )


class LinePublic(BaseModel):
    sku: str
    quantity: int


class AllocationPublic(BaseModel):
    fulfilment_centre: str
    shipment_id: str = Field(description="The parcel's id for carrier events.")
    lines: list[LinePublic]


class TimingsPublic(BaseModel):
    """Simulated hours of each phase; null until the phase has ended."""

    order_hours: float | None
    shipping_hours: float | None
    delivery_hours: float | None
    fulfilment_hours: float | None


class DestinationPublic(BaseModel):
    country: str
    postal_code: str
    lat: float
    lon: float


class OrderPublic(BaseModel):
    order_id: str
    customer_id: str
    order_type: OrderType
    mode: Mode
    status: OrderStatus
    destination: DestinationPublic
    allocations: list[AllocationPublic]
    placed_at: datetime
    promised_hours: float | None = Field(description="Simulated hours from placement.")
    promised_delivery_at: datetime | None = Field(
        description="When delivery is promised, on the (possibly compressed) real clock."
    )
    failure_reason: str | None
    timings: TimingsPublic
    sourcing: dict[str, Any] | None = Field(
        None, description="The sourcing decision: candidates considered and why this plan."
    )
    trace_id: str | None = Field(
        None,
        description="The W3C trace id of the request that placed the order, when it was traced: "
        "its workflow, activities and SQL statements are in that trace.",
        pattern="^[0-9a-f]{32}$",
    )


class OrderPage(BaseModel):
    items: list[OrderPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class SurveyCreate(Strict):
    delivery_time: Rating
    accuracy: Rating
    overall: Rating
    comment: Annotated[str | None, Field(max_length=2000)] = None


class SurveyPublic(BaseModel):
    order_id: str
    delivery_time: int
    accuracy: int
    overall: int
    comment: str | None
    answered_at: datetime


class CancelIn(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=500)] = "cancelled by the customer"


class CancelPublic(BaseModel):
    order_id: str
    status: OrderStatus
    reason: str | None


class CarrierEventIn(Strict):
    kind: Literal["dispatched", "delivered", "exception"]
    at: datetime | None = Field(None, description="When it happened; default: now.")
    detail: Annotated[str | None, Field(max_length=500)] = None


class CentrePublic(BaseModel):
    id: str
    name: str
    region: str
    country: str
    lat: float
    lon: float
    central: bool
    capacity_per_hour: float | None = Field(
        description="Orders the centre picks per simulated hour; for operator keys only, null "
        "for the others."
    )


class StockPublic(BaseModel):
    fulfilment_centre: str
    sku: str
    on_hand: int
    available: int
    reserved: int
    shipped: int


class StockPage(BaseModel):
    items: list[StockPublic]
    next_cursor: str | None


class ReceiptIn(Strict):
    receipt_id: Identifier | None = Field(
        None, description="Your id for this receipt; a repeat with the same id adds nothing."
    )
    fulfilment_centre: Identifier
    sku: Annotated[str, Field(min_length=1, max_length=32)]
    quantity: Annotated[int, Field(ge=1, le=1_000_000)]


class ReceiptPublic(BaseModel):
    receipt_id: str
    recorded: bool = Field(description="False when this receipt id was already recorded.")
    backorders_woken: int
    backorders_allocated: list[str]


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the input at fault, e.g. lines.0.quantity.")
    message: str


class ProblemPublic(BaseModel):
    """RFC 9457 problem details, the body of every error; some add members (e.g. `checks`)."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = Field(
        None, description="Each input at fault: in a 422, and in a 404 for an unknown id given."
    )


class Health(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)


class ReportWindowPublic(BaseModel):
    """The orders a report covers: of this mode (null: all), placed in [since, until]."""

    mode: Mode | None
    since: datetime | None
    until: datetime | None


class ThroughputPublic(BaseModel):
    mode: Mode | None = Field(description="null in the total over all modes.")
    placed: int = Field(description="Orders placed in the window.")
    by_status: dict[str, int] = Field(description="Those orders by their current status.")
    first_placed_at: datetime | None
    last_placed_at: datetime | None
    seconds: float | None = Field(
        description="Length of the window: since/until where given, else first/last placement."
    )
    orders_per_second: float | None = Field(description="placed / seconds; null if no length.")
    orders_per_hour: float | None


class PerformanceReportPublic(BaseModel):
    """Table 4.1: orders placed and the rate they arrived at, per mode."""

    window: ReportWindowPublic
    modes: list[ThroughputPublic]
    total: ThroughputPublic


class FulfilmentTimesPublic(BaseModel):
    """Mean simulated hours of delivered orders; null where none were delivered."""

    mode: Mode | None = Field(description="null in the total.")
    order_type: OrderType | None = Field(description="null in the total.")
    delivered: int
    order_hours: float | None = Field(description="T_order: placement to allocation.")
    shipping_hours: float | None = Field(description="T_shipping: allocation to dispatch.")
    delivery_hours: float | None = Field(description="T_delivery: dispatch to delivery.")
    fulfilment_hours: float | None = Field(description="T_f, the sum of the three.")
    p50_fulfilment_hours: float | None
    p95_fulfilment_hours: float | None


class FulfilmentReportPublic(BaseModel):
    """Table 4.2: fulfilment time and its three phases per mode and order type."""

    window: ReportWindowPublic
    groups: list[FulfilmentTimesPublic]
    total: FulfilmentTimesPublic


class SatisfactionScoresPublic(BaseModel):
    """Mean ratings (1-5) of the surveys answered; null where there are none."""

    mode: Mode | None = Field(description="null in the total.")
    order_type: OrderType | None = Field(description="null in the total.")
    surveys: int
    delivery_time: float | None
    accuracy: float | None
    overall: float | None
    satisfaction: float | None = Field(
        description="The headline score: the mean of delivery_time, accuracy and overall."
    )


class SatisfactionReportPublic(BaseModel):
    """Table 4.3: customer satisfaction per mode and order type."""

    window: ReportWindowPublic
    headline: str = Field(description="The field reported as the paper's satisfaction score.")
    groups: list[SatisfactionScoresPublic]
    total: SatisfactionScoresPublic
