"""Request and response bodies: one schema per purpose, unknown fields refused, every bound set."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

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
    country: Annotated[str, Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")]
    postal_code: Annotated[str, Field(min_length=1, max_length=16)]
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    lon: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]

    @field_validator("country")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class OrderCreate(Strict):
    customer_id: Identifier
    order_type: OrderType
    destination: DestinationIn
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=100)]

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


class Health(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)
