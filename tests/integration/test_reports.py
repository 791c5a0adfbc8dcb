"""The paper's three tables from the store: means per mode and order type, rates over the
window, percentiles, and the window's filters, on SQLite and on PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from warehouse import OPENING, PROMISE, SOURCING, OrderDesk, Stockroom

from domain.orders import Mode, OrderLine, OrderType
from store import reports
from store.orders import NewOrder, ParcelReservation
from store.reports import ReportWindow
from store.surveys import SurveyAnswers, SurveyOutcome, record_survey

SOFA = "SKU-0001"
STANDARD, EXPEDITED = OrderType.STANDARD, OrderType.EXPEDITED
CENTRALIZED, DISTRIBUTED = Mode.CENTRALIZED, Mode.DISTRIBUTED
EVERYTHING = ReportWindow()


@dataclass(frozen=True)
class Phases:
    """Simulated hours of T_order, T_shipping and T_delivery (the desk runs at speedup 1)."""

    order: float
    shipping: float
    delivery: float


@pytest.fixture(autouse=True)
async def plenty_of_sofas(stockroom: Stockroom) -> None:
    await stockroom.put(SOFA, units=1_000)


async def allocated(
    desk: OrderDesk, order_type: OrderType, mode: Mode, order_hours: float = 0.0
) -> NewOrder:
    order = desk.order(OrderLine(SOFA, 1), order_type=order_type, mode=mode)
    allocated_at = order.placed_at + timedelta(hours=order_hours)
    parcels = [ParcelReservation("ewr", order.lines)]
    assert await desk.record_allocation(order, parcels, PROMISE, allocated_at, SOURCING)
    return order


async def delivered(desk: OrderDesk, order_type: OrderType, mode: Mode, phases: Phases) -> str:
    order = await allocated(desk, order_type, mode, phases.order)
    dispatched_at = order.placed_at + timedelta(hours=phases.order + phases.shipping)
    shipment = f"{order.order_id}-ewr"
    assert await desk.writes.record_shipment(
        order.order_id, "ewr", shipment, dispatched_at, phases.shipping
    )
    delivered_at = dispatched_at + timedelta(hours=phases.delivery)
    await desk.writes.record_delivery(order.order_id, delivered_at, phases.delivery)
    return order.order_id


async def rate(
    sessions: async_sessionmaker[AsyncSession], order_id: str, ratings: tuple[int, int, int]
) -> None:
    answers = SurveyAnswers(*ratings, comment=None)
    async with sessions() as session:
        outcome = await record_survey(session, order_id, answers, OPENING + timedelta(days=3))
    assert outcome is SurveyOutcome.RECORDED


async def fulfilment(
    sessions: async_sessionmaker[AsyncSession], window: ReportWindow = EVERYTHING
) -> reports.FulfilmentReport:
    async with sessions() as session:
        return await reports.fulfilment(session, window)


async def performance(
    sessions: async_sessionmaker[AsyncSession], window: ReportWindow = EVERYTHING
) -> reports.PerformanceReport:
    async with sessions() as session:
        return await reports.performance(session, window)


async def satisfaction(
    sessions: async_sessionmaker[AsyncSession], window: ReportWindow = EVERYTHING
) -> reports.SatisfactionReport:
    async with sessions() as session:
        return await reports.satisfaction(session, window)


def group_of(
    groups: list[reports.FulfilmentTimes], mode: Mode, order_type: OrderType
) -> reports.FulfilmentTimes:
    [group] = [g for g in groups if g.mode == mode and g.order_type == order_type]
    return group


async def test_fulfilment_means_each_phase_and_their_sum_per_mode_and_order_type(
    db_sessions: async_sessionmaker[AsyncSession], desk: OrderDesk
) -> None:
    await delivered(desk, STANDARD, CENTRALIZED, Phases(1.0, 2.0, 3.0))
    await delivered(desk, STANDARD, CENTRALIZED, Phases(2.0, 4.0, 5.0))
    await delivered(desk, STANDARD, DISTRIBUTED, Phases(0.5, 1.0, 1.5))
    await delivered(desk, EXPEDITED, DISTRIBUTED, Phases(0.25, 0.5, 1.0))

    report = await fulfilment(db_sessions)

    assert [(g.mode, g.order_type, g.delivered) for g in report.groups] == [
        ("centralized", "standard", 2),
        ("distributed", "expedited", 1),
        ("distributed", "standard", 1),
    ]
    central = group_of(report.groups, CENTRALIZED, STANDARD)
    assert central.order_hours == pytest.approx(1.5)
    assert central.shipping_hours == pytest.approx(3.0)
    assert central.delivery_hours == pytest.approx(4.0)
    assert central.fulfilment_hours == pytest.approx(8.5)
    regional = group_of(report.groups, DISTRIBUTED, STANDARD)
    assert regional.fulfilment_hours == pytest.approx(3.0)
    assert report.total.delivered == 4
    assert report.total.fulfilment_hours == pytest.approx((6 + 11 + 3 + 1.75) / 4)
    assert (report.total.mode, report.total.order_type) == (None, None)


async def test_fulfilment_leaves_out_orders_not_yet_delivered(
    db_sessions: async_sessionmaker[AsyncSession], desk: OrderDesk
) -> None:
    await delivered(desk, STANDARD, DISTRIBUTED, Phases(1.0, 1.0, 1.0))
    await allocated(desk, STANDARD, DISTRIBUTED, order_hours=9.0)

    report = await fulfilment(db_sessions)

    assert report.total.delivered == 1
    assert report.total.order_hours == pytest.approx(1.0)


async def test_fulfilment_percentiles_interpolate_between_ranks_and_are_ordered(
    db_sessions: async_sessionmaker[AsyncSession], desk: OrderDesk
) -> None:
    for delivery in (5.0, 1.0, 4.0, 2.0, 3.0):  # T_f of 1..5 hours, stored out of order
        await delivered(desk, STANDARD, DISTRIBUTED, Phases(0.0, 0.0, delivery))
    await delivered(desk, EXPEDITED, DISTRIBUTED, Phases(0.0, 0.0, 7.0))

    report = await fulfilment(db_sessions)

    standard = group_of(report.groups, DISTRIBUTED, STANDARD)
    assert standard.p50_fulfilment_hours == pytest.approx(3.0)
    assert standard.p95_fulfilment_hours == pytest.approx(4.8)  # rank 3.8 of 0..4
    expedited = group_of(report.groups, DISTRIBUTED, EXPEDITED)
    assert expedited.p50_fulfilment_hours == expedited.p95_fulfilment_hours == pytest.approx(7.0)
    for times in [*report.groups, report.total]:
        assert times.p50_fulfilment_hours is not None and times.p95_fulfilment_hours is not None
        assert times.p50_fulfilment_hours <= times.p95_fulfilment_hours
    assert report.total.p95_fulfilment_hours == pytest.approx(6.5)  # rank 4.75 of 1..5, 7


async def test_performance_counts_orders_by_status_and_rates_them_over_the_window(
    db_sessions: async_sessionmaker[AsyncSession], desk: OrderDesk
) -> None:
    for _ in range(3):
        await delivered(desk, STANDARD, DISTRIBUTED, Phases(0.0, 1.0, 1.0))
    await allocated(desk, EXPEDITED, DISTRIBUTED)
    await allocated(desk, STANDARD, CENTRALIZED)
    window = ReportWindow(since=OPENING, until=OPENING + timedelta(minutes=10))

    report = await performance(db_sessions, window)

    [central, regional] = report.modes
    assert (central.mode, central.placed, central.by_status) == ("centralized", 1, {"allocated": 1})
    assert (regional.mode, regional.placed) == ("distributed", 4)
    assert regional.by_status == {"allocated": 1, "delivered": 3}
    assert regional.seconds == 600.0
    assert regional.orders_per_second == pytest.approx(4 / 600)
    assert regional.orders_per_hour == pytest.approx(24.0)
    assert report.total.placed == 5
    assert report.total.by_status == {"allocated": 2, "delivered": 3}
    assert report.total.orders_per_hour == pytest.approx(30.0)


async def test_performance_spans_first_to_last_placement_when_the_window_is_open(
    db_sessions: async_sessionmaker[AsyncSession], desk: OrderDesk
) -> None:
    for _ in range(4):  # the desk places an order a minute
        await allocated(desk, STANDARD, DISTRIBUTED)

    report = await performance(db_sessions)

    [regional] = report.modes
    assert regional.first_placed_at == OPENING + timedelta(minutes=1)
    assert regional.last_placed_at == OPENING + timedelta(minutes=4)
    assert regional.seconds == 180.0
    assert regional.orders_per_hour == pytest.approx(4 / 180 * 3600)


async def test_performance_has_no_rate_for_a_window_without_length(
    db_sessions: async_sessionmaker[AsyncSession], desk: OrderDesk
) -> None:
    await allocated(desk, STANDARD, DISTRIBUTED)

    report = await performance(db_sessions)

    assert report.total.placed == 1
    assert report.total.seconds == 0.0
    assert report.total.orders_per_second is None and report.total.orders_per_hour is None


async def test_satisfaction_means_each_rating_and_the_three_together_per_mode_and_type(
    db_sessions: async_sessionmaker[AsyncSession], desk: OrderDesk
) -> None:
    quick = Phases(0.0, 1.0, 1.0)
    await rate(db_sessions, await delivered(desk, STANDARD, DISTRIBUTED, quick), (5, 4, 5))
    await rate(db_sessions, await delivered(desk, STANDARD, DISTRIBUTED, quick), (3, 4, 4))
    await rate(db_sessions, await delivered(desk, STANDARD, CENTRALIZED, quick), (2, 5, 2))
    await delivered(desk, EXPEDITED, CENTRALIZED, quick)  # delivered, never rated

    report = await satisfaction(db_sessions)

    assert report.headline == "satisfaction"
    assert [(g.mode, g.order_type, g.surveys) for g in report.groups] == [
        ("centralized", "standard", 1),
        ("distributed", "standard", 2),
    ]
    central, regional = report.groups
    assert (central.delivery_time, central.accuracy, central.overall) == (2.0, 5.0, 2.0)
    assert central.satisfaction == pytest.approx(3.0)
    assert regional.delivery_time == pytest.approx(4.0)
    assert regional.accuracy == pytest.approx(4.0)
    assert regional.overall == pytest.approx(4.5)
    assert regional.satisfaction == pytest.approx(25 / 6)
    assert report.total.surveys == 3
    assert report.total.satisfaction == pytest.approx(34 / 9)


async def test_the_window_selects_orders_by_mode_and_placement_time_in_every_report(
    db_sessions: async_sessionmaker[AsyncSession], desk: OrderDesk
) -> None:
    phases = Phases(0.0, 1.0, 1.0)
    early = await delivered(desk, STANDARD, DISTRIBUTED, phases)  # placed at minute 1
    await rate(db_sessions, early, (1, 1, 1))
    for _ in range(2):  # minutes 2 and 3
        await rate(db_sessions, await delivered(desk, STANDARD, DISTRIBUTED, phases), (5, 5, 5))
    await rate(db_sessions, await delivered(desk, STANDARD, CENTRALIZED, phases), (3, 3, 3))
    window = ReportWindow(
        mode="distributed",
        since=OPENING + timedelta(minutes=2),
        until=OPENING + timedelta(minutes=3),
    )

    placed = await performance(db_sessions, window)
    times = await fulfilment(db_sessions, window)
    scores = await satisfaction(db_sessions, window)

    assert [(row.mode, row.placed) for row in placed.modes] == [("distributed", 2)]
    assert [(g.mode, g.delivered) for g in times.groups] == [("distributed", 2)]
    assert [(g.mode, g.surveys, g.satisfaction) for g in scores.groups] == [("distributed", 2, 5.0)]
    assert placed.total.placed == times.total.delivered == scores.total.surveys == 2


async def test_an_empty_window_gives_no_groups_and_empty_totals(
    db_sessions: async_sessionmaker[AsyncSession], desk: OrderDesk
) -> None:
    order_id = await delivered(desk, STANDARD, DISTRIBUTED, Phases(1.0, 1.0, 1.0))
    await rate(db_sessions, order_id, (4, 4, 4))
    before: datetime = OPENING - timedelta(days=1)
    window = ReportWindow(since=before, until=OPENING)

    placed = await performance(db_sessions, window)
    times = await fulfilment(db_sessions, window)
    scores = await satisfaction(db_sessions, window)

    assert placed.modes == [] and times.groups == [] and scores.groups == []
    assert placed.total.placed == 0 and placed.total.by_status == {}
    assert placed.total.orders_per_second == 0.0  # a day-long window with no orders in it
    assert times.total.delivered == 0 and times.total.fulfilment_hours is None
    assert times.total.p50_fulfilment_hours is None
    assert scores.total.surveys == 0 and scores.total.satisfaction is None


def test_a_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="since is after until"):
        ReportWindow(since=OPENING, until=OPENING - timedelta(seconds=1))
