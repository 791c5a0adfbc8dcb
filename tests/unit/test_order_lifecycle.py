"""The order's lifecycle, written once in domain/orders.py, and the store's guards built on it."""

from __future__ import annotations

from itertools import pairwise

import pytest
from sqlalchemy import Update

from domain.orders import (
    FINAL_STATUSES,
    MAY_CHANGE_DESTINATION,
    NEXT_STATUSES,
    OrderStatus,
    may_follow,
    statuses_before,
)
from store import orders as store_orders

OPEN_STATUSES = frozenset(OrderStatus) - FINAL_STATUSES


def reachable_from(status: OrderStatus) -> set[OrderStatus]:
    reached: set[OrderStatus] = set()
    todo = [status]
    while todo:
        for following in NEXT_STATUSES[todo.pop()] - reached:
            reached.add(following)
            todo.append(following)
    return reached


def statuses_let_through(statement: Update) -> set[str]:
    """The statuses a prebuilt UPDATE's `status IN (...)` lets through."""
    binds = statement.compile().binds.values()
    return {str(status) for bind in binds if bind.expanding for status in bind.value}


def test_every_status_has_its_place_in_the_table() -> None:
    assert set(NEXT_STATUSES) == set(OrderStatus)


def test_an_order_is_finished_once_delivered_cancelled_failed_or_rejected() -> None:
    assert {
        OrderStatus.DELIVERED,
        OrderStatus.CANCELLED,
        OrderStatus.FAILED,
        OrderStatus.REJECTED,
    } == FINAL_STATUSES
    assert OrderStatus.BACKORDERED not in FINAL_STATUSES


@pytest.mark.parametrize("final", sorted(FINAL_STATUSES))
def test_nothing_follows_a_final_status(final: OrderStatus) -> None:
    assert not any(may_follow(final, following) for following in OrderStatus)


@pytest.mark.parametrize("status", sorted(OPEN_STATUSES))
def test_an_order_not_yet_final_can_still_end(status: OrderStatus) -> None:
    assert reachable_from(status) & FINAL_STATUSES
    assert status not in reachable_from(status)  # no status comes round again


def test_an_order_goes_from_received_through_allocated_and_shipped_to_delivered() -> None:
    path = [OrderStatus.RECEIVED, OrderStatus.ALLOCATED, OrderStatus.SHIPPED, OrderStatus.DELIVERED]

    assert all(may_follow(current, following) for current, following in pairwise(path))


def test_every_status_but_received_follows_another_and_received_none() -> None:
    assert statuses_before(OrderStatus.RECEIVED) == set()
    assert all(statuses_before(status) for status in set(OrderStatus) - {OrderStatus.RECEIVED})


@pytest.mark.parametrize(
    ("current", "following"),
    [
        (OrderStatus.SHIPPED, OrderStatus.CANCELLED),  # a cancel is too late once dispatched
        (OrderStatus.SHIPPED, OrderStatus.ALLOCATED),
        (OrderStatus.BACKORDERED, OrderStatus.SHIPPED),  # it is allocated first
        (OrderStatus.BACKORDERED, OrderStatus.REJECTED),  # it was accepted to wait
        (OrderStatus.ALLOCATED, OrderStatus.DELIVERED),  # it ships first
        (OrderStatus.ALLOCATED, OrderStatus.BACKORDERED),
        (OrderStatus.CANCELLED, OrderStatus.DELIVERED),
        (OrderStatus.FAILED, OrderStatus.ALLOCATED),
        (OrderStatus.RECEIVED, OrderStatus.SHIPPED),
    ],
)
def test_a_status_change_outside_the_lifecycle_is_refused(
    current: OrderStatus, following: OrderStatus
) -> None:
    assert not may_follow(current, following)
    assert current not in statuses_before(following)


def test_statuses_before_a_status_are_those_it_may_follow() -> None:
    for status in OrderStatus:
        assert statuses_before(status) == {
            current for current in OrderStatus if may_follow(current, status)
        }
    assert statuses_before(OrderStatus.ALLOCATED) == {
        OrderStatus.RECEIVED,
        OrderStatus.BACKORDERED,
    }
    assert statuses_before(OrderStatus.SHIPPED) == {OrderStatus.ALLOCATED}


def test_only_a_failed_order_may_have_shipped_some_of_its_parcels() -> None:
    """What the store's audit expects of an ended order's shipments (store/audit.py)."""
    ended_after_a_dispatch = FINAL_STATUSES & reachable_from(OrderStatus.SHIPPED)

    assert ended_after_a_dispatch - {OrderStatus.DELIVERED} == {OrderStatus.FAILED}


def test_only_an_allocated_order_may_change_its_destination() -> None:
    assert {OrderStatus.ALLOCATED} == MAY_CHANGE_DESTINATION
    assert MAY_CHANGE_DESTINATION <= OPEN_STATUSES


def test_the_store_ships_an_order_the_table_lets_ship_and_a_split_orders_next_parcel() -> None:
    let_through = statuses_let_through(store_orders._SHIP_ORDER)

    assert let_through == statuses_before(OrderStatus.SHIPPED) | {OrderStatus.SHIPPED}
    assert let_through == {OrderStatus.ALLOCATED, OrderStatus.SHIPPED}
