"""The paper's three tables, computed from the store: the code behind both the reports API and
the experiment, so the two can never disagree.

- `performance` (Table 4.1): orders placed, by status, and the achieved arrival rate.
- `fulfilment` (Table 4.2): mean T_order, T_shipping, T_delivery and T_f of delivered orders.
- `satisfaction` (Table 4.3): mean survey ratings; the headline is the mean of all three.

Every report selects orders by `ReportWindow`: its mode, and `since <= placed_at <= until`
(either end open). All three filter on *placement*, so one window selects the same orders in
each table, whenever they were delivered or rated. Groups are (mode) or (mode, order type)
and only groups with data are returned, with a total over everything the window selected.

Aggregates are SQL (`count`, `avg`, `min`, `max`) grouped in the database; percentiles are
read with `ORDER BY ... LIMIT 2 OFFSET k` per group, so nothing fetches rows in bulk and the
same statements run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Float, Select, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from domain.orders import OrderStatus
from store.models import OrderRow, SurveyRow

SECONDS_PER_HOUR = 3600.0
# The survey score the paper's Table 4.3 reports: the mean of the three ratings, as its survey
# covered delivery time, order accuracy and overall experience together.
HEADLINE_SATISFACTION = "satisfaction"

Columns = TypeVarTuple("Columns")
# The mean columns of a fulfilment group: count, T_order, T_shipping, T_delivery, T_f.
FulfilmentMeans = tuple[int, float | None, float | None, float | None, float | None]
# The mean columns of a satisfaction group: count, delivery time, accuracy, overall, all three.
SatisfactionMeans = FulfilmentMeans


@dataclass(frozen=True)
class ReportWindow:
    """Orders of one mode (None: all) placed between `since` and `until` (None: open)."""

    mode: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError("since is after until")


# --- Table 4.1 ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Throughput:
    """Orders placed by one mode (None: all modes) and the rate they arrived at."""

    mode: str | None
    placed: int
    by_status: dict[str, int]
    first_placed_at: datetime | None
    last_placed_at: datetime | None
    seconds: float | None  # the window: since/until where given, else first/last placement
    orders_per_second: float | None  # None when the window has no length
    orders_per_hour: float | None


@dataclass(frozen=True)
class PerformanceReport:
    window: ReportWindow
    modes: list[Throughput]
    total: Throughput


async def performance(session: AsyncSession, window: ReportWindow) -> PerformanceReport:
    """Orders placed in the window per mode, by status, with orders/s and orders/hour."""
    spans = await session.execute(
        _within(
            select(
                OrderRow.mode,
                func.count(),
                func.min(OrderRow.placed_at),
                func.max(OrderRow.placed_at),
            ),
            window,
        )
        .group_by(OrderRow.mode)
        .order_by(OrderRow.mode)
    )
    statuses = await session.execute(
        _within(select(OrderRow.mode, OrderRow.status, func.count()), window).group_by(
            OrderRow.mode, OrderRow.status
        )
    )
    by_status: dict[str, dict[str, int]] = {}
    for mode, status, count in statuses:
        by_status.setdefault(mode, {})[status] = int(count)
    modes = [
        _throughput(window, mode, int(count), by_status.get(mode, {}), first, last)
        for mode, count, first, last in spans
    ]
    total_status: dict[str, int] = {}
    for counts in by_status.values():
        for status, count in counts.items():
            total_status[status] = total_status.get(status, 0) + count
    total = _throughput(
        window,
        None,
        sum(row.placed for row in modes),
        dict(sorted(total_status.items())),
        min((row.first_placed_at for row in modes if row.first_placed_at), default=None),
        max((row.last_placed_at for row in modes if row.last_placed_at), default=None),
    )
    return PerformanceReport(window, modes, total)


def _throughput(
    window: ReportWindow,
    mode: str | None,
    placed: int,
    by_status: dict[str, int],
    first: datetime | None,
    last: datetime | None,
) -> Throughput:
    start, end = window.since or first, window.until or last
    seconds = (end - start).total_seconds() if start is not None and end is not None else None
    rate = placed / seconds if seconds else None
    return Throughput(
        mode=mode,
        placed=placed,
        by_status=dict(sorted(by_status.items())),
        first_placed_at=first,
        last_placed_at=last,
        seconds=seconds,
        orders_per_second=rate,
        orders_per_hour=rate * SECONDS_PER_HOUR if rate is not None else None,
    )


# --- Table 4.2 ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FulfilmentTimes:
    """Delivered orders of one mode and order type (None: all), in mean simulated hours."""

    mode: str | None
    order_type: str | None
    delivered: int
    order_hours: float | None  # T_order
    shipping_hours: float | None  # T_shipping
    delivery_hours: float | None  # T_delivery
    fulfilment_hours: float | None  # T_f = the sum of the three
    p50_fulfilment_hours: float | None
    p95_fulfilment_hours: float | None


@dataclass(frozen=True)
class FulfilmentReport:
    window: ReportWindow
    groups: list[FulfilmentTimes]
    total: FulfilmentTimes


def _fulfilment_hours() -> ColumnElement[float | None]:
    return OrderRow.order_hours + OrderRow.shipping_hours + OrderRow.delivery_hours


async def fulfilment(session: AsyncSession, window: ReportWindow) -> FulfilmentReport:
    """Mean phase times and T_f (with p50/p95) of delivered orders, per mode and order type."""
    means = (
        func.count(),
        _mean(OrderRow.order_hours),
        _mean(OrderRow.shipping_hours),
        _mean(OrderRow.delivery_hours),
        _mean(_fulfilment_hours()),
    )
    rows = await session.execute(
        _delivered(select(OrderRow.mode, OrderRow.order_type, *means), window)
        .group_by(OrderRow.mode, OrderRow.order_type)
        .order_by(OrderRow.mode, OrderRow.order_type)
    )
    groups = []
    for mode, order_type, count, order, shipping, delivery, t_f in rows:
        group_means = (count, order, shipping, delivery, t_f)
        where = (OrderRow.mode == mode, OrderRow.order_type == order_type)
        groups.append(await _times(session, window, mode, order_type, group_means, where))
    count, order, shipping, delivery, t_f = (
        await session.execute(_delivered(select(*means), window))
    ).one()
    total = await _times(session, window, None, None, (count, order, shipping, delivery, t_f), ())
    return FulfilmentReport(window, groups, total)


async def _times(
    session: AsyncSession,
    window: ReportWindow,
    mode: str | None,
    order_type: str | None,
    means: FulfilmentMeans,
    where: Sequence[ColumnElement[bool]],
) -> FulfilmentTimes:
    count, order, shipping, delivery, total = means
    p50, p95 = await _percentiles(session, window, int(count), where)
    return FulfilmentTimes(
        mode=mode,
        order_type=order_type,
        delivered=int(count),
        order_hours=_float(order),
        shipping_hours=_float(shipping),
        delivery_hours=_float(delivery),
        fulfilment_hours=_float(total),
        p50_fulfilment_hours=p50,
        p95_fulfilment_hours=p95,
    )


async def _percentiles(
    session: AsyncSession, window: ReportWindow, count: int, where: Sequence[ColumnElement[bool]]
) -> tuple[float | None, float | None]:
    p50 = await _percentile(session, window, count, where, 0.50)
    p95 = await _percentile(session, window, count, where, 0.95)
    return p50, p95


async def _percentile(
    session: AsyncSession,
    window: ReportWindow,
    count: int,
    where: Sequence[ColumnElement[bool]],
    q: float,
) -> float | None:
    """The q-quantile of T_f, interpolated between the two nearest ranks (as numpy's default
    and `statistics.quantiles(method="inclusive")`); reads two values, not the group."""
    if count == 0:
        return None
    rank = (count - 1) * q
    below = math.floor(rank)
    t_f = _fulfilment_hours()
    values = list(
        await session.scalars(
            _delivered(select(cast(t_f, Float)), window)
            .where(*where)
            .order_by(t_f)
            .offset(below)
            .limit(2)
        )
    )
    if not values:  # delivered rows never go away; only a concurrent rewrite gets here
        return None
    low = float(values[0])
    high = float(values[1]) if len(values) > 1 else low
    return low + (high - low) * (rank - below)


# --- Table 4.3 ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SatisfactionScores:
    """Survey answers for orders of one mode and order type (None: all), as mean ratings 1-5.

    `satisfaction`, the mean of the three ratings, is the headline score (Table 4.3).
    """

    mode: str | None
    order_type: str | None
    surveys: int
    delivery_time: float | None
    accuracy: float | None
    overall: float | None
    satisfaction: float | None


@dataclass(frozen=True)
class SatisfactionReport:
    window: ReportWindow
    groups: list[SatisfactionScores]
    total: SatisfactionScores
    headline: str = HEADLINE_SATISFACTION


async def satisfaction(session: AsyncSession, window: ReportWindow) -> SatisfactionReport:
    """Mean survey ratings per mode and order type, of orders placed in the window."""
    means = (
        func.count(),
        _mean(SurveyRow.delivery_time),
        _mean(SurveyRow.accuracy),
        _mean(SurveyRow.overall),
        _mean((SurveyRow.delivery_time + SurveyRow.accuracy + SurveyRow.overall) / 3.0),
    )
    rows = await session.execute(
        _surveyed(select(OrderRow.mode, OrderRow.order_type, *means), window)
        .group_by(OrderRow.mode, OrderRow.order_type)
        .order_by(OrderRow.mode, OrderRow.order_type)
    )
    groups = [
        _scores(mode, order_type, (count, delivery_time, accuracy, overall, together))
        for mode, order_type, count, delivery_time, accuracy, overall, together in rows
    ]
    count, delivery_time, accuracy, overall, together = (
        await session.execute(_surveyed(select(*means), window))
    ).one()
    total = _scores(None, None, (count, delivery_time, accuracy, overall, together))
    return SatisfactionReport(window, groups, total)


def _scores(
    mode: str | None, order_type: str | None, means: SatisfactionMeans
) -> SatisfactionScores:
    count, delivery_time, accuracy, overall, together = means
    return SatisfactionScores(
        mode=mode,
        order_type=order_type,
        surveys=int(count),
        delivery_time=_float(delivery_time),
        accuracy=_float(accuracy),
        overall=_float(overall),
        satisfaction=_float(together),
    )


# --- shared ---------------------------------------------------------------------------------


def _within(query: Select[*Columns], window: ReportWindow) -> Select[*Columns]:
    if window.mode is not None:
        query = query.where(OrderRow.mode == window.mode)
    if window.since is not None:
        query = query.where(OrderRow.placed_at >= window.since)
    if window.until is not None:
        query = query.where(OrderRow.placed_at <= window.until)
    return query


def _delivered(query: Select[*Columns], window: ReportWindow) -> Select[*Columns]:
    """Delivered orders with all three phase times (a delivered order always has them)."""
    return _within(query, window).where(
        OrderRow.status == OrderStatus.DELIVERED,
        OrderRow.order_hours.is_not(None),
        OrderRow.shipping_hours.is_not(None),
        OrderRow.delivery_hours.is_not(None),
    )


def _surveyed(query: Select[*Columns], window: ReportWindow) -> Select[*Columns]:
    return _within(query.select_from(SurveyRow).join(OrderRow), window)


def _mean(column: ColumnElement[Any] | QueryableAttribute[Any]) -> ColumnElement[float | None]:
    # As a float on both backends: PostgreSQL's avg of integers is numeric (a Decimal).
    return func.avg(cast(column, Float))


def _float(value: float | None) -> float | None:
    return float(value) if value is not None else None
