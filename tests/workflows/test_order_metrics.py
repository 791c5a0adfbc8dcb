"""Each order's lifecycle is counted once, in the process that does each step: `placed` and
`allocated` when the API accepts it (OrderActivities.accept), the rest in the activities
that ship and deliver it; on the time-skipping test server with the real activities on a
SQLite app database."""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest
from lifecycle import an_order, outcome_of, place, running_workers
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from activities.faults import FaultInjector
from activities.orders import OrderActivities
from domain.network_spec import NetworkSpec
from domain.orders import OrderLine, OrderStatus, OrderType
from store import queries

EVENTS = ("placed", "allocated", "shipped", "delivered", "failed", "rejected")
PHASES = ("order", "shipping", "delivery", "fulfilment")


def counts(fc: str) -> dict[str, float]:
    """Expedited distributed orders by event; allocated and shipped at `fc`."""
    labels = {"order_type": "expedited", "mode": "distributed"}
    at = {"allocated": fc, "shipped": fc}
    return {
        event: REGISTRY.get_sample_value(
            "doms_orders_total", {"event": event, "fulfilment_centre": at.get(event, ""), **labels}
        )
        or 0.0
        for event in EVENTS
    }


def phase_hours(statistic: str) -> dict[str, float]:
    labels = {"order_type": "expedited", "mode": "distributed"}
    name = f"doms_order_phase_hours_{statistic}"
    return {
        phase: REGISTRY.get_sample_value(name, {"phase": phase, **labels}) or 0.0
        for phase in PHASES
    }


def moved(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {key: after[key] - before[key] for key in after if after[key] != before[key]}


async def test_a_delivered_order_counts_each_event_once_and_observes_its_phase_hours(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    task_queue: str,
) -> None:
    before, hours_before = counts("ewr"), phase_hours("sum")
    observed_before = phase_hours("count")
    order = an_order(OrderLine("SKU-0005", 1), order_type=OrderType.EXPEDITED)

    await place(time_skipping_env.client, sessions, network_spec, order, task_queue=task_queue)
    accepted = moved(counts("ewr"), before)  # by the API as it accepted the order
    assert (await outcome_of(time_skipping_env, order)).status is OrderStatus.DELIVERED

    assert accepted == {"placed": 1, "allocated": 1}

    assert moved(counts("ewr"), before) == {
        "placed": 1,
        "allocated": 1,
        "shipped": 1,
        "delivered": 1,
    }
    assert moved(phase_hours("count"), observed_before) == dict.fromkeys(PHASES, 1)
    async with sessions() as session:
        view = await queries.get_order(session, order.order_id)
    assert view is not None and view.timings.fulfilment_hours is not None
    fulfilment = phase_hours("sum")["fulfilment"] - hours_before["fulfilment"]
    assert fulfilment == pytest.approx(view.timings.fulfilment_hours)


async def test_an_order_that_fails_to_ship_counts_failed_once_and_never_shipped(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    worker_stack: AsyncExitStack,
) -> None:
    always_down = OrderActivities(sessions, network_spec, FaultInjector(1.0))
    task_queue = await running_workers(time_skipping_env.client, always_down, worker_stack)
    before = counts("ewr")
    order = an_order(OrderLine("SKU-0006", 1), order_type=OrderType.EXPEDITED)

    await place(time_skipping_env.client, sessions, network_spec, order, task_queue=task_queue)
    assert (await outcome_of(time_skipping_env, order)).status is OrderStatus.FAILED

    assert moved(counts("ewr"), before) == {"placed": 1, "allocated": 1, "failed": 1}
