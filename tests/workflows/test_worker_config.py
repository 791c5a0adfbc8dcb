"""doms/worker.py: how the workers of `doms worker` are configured."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.orders import OrderActivities
from domain.network_spec import NetworkSpec
from doms.settings import Settings
from doms.worker import WorkflowSlots, order_workers, shutdown_workflow_threads
from store.db import create_engine, session_factory


@pytest.fixture
async def activities(sqlite_url: str, network_spec: NetworkSpec) -> AsyncIterator[OrderActivities]:
    engine = create_engine(sqlite_url)
    try:
        yield OrderActivities(session_factory(engine), network_spec)
    finally:
        await engine.dispose()


async def test_workers_run_only_so_many_database_and_ship_steps_at_once(
    time_skipping_env: WorkflowEnvironment, activities: OrderActivities, network_spec: NetworkSpec
) -> None:
    client, network = time_skipping_env.client, network_spec.network
    configured = order_workers(
        client, "orders-seven", activities, network, db_steps=7, ship_steps=3
    )
    default = order_workers(client, "orders-default", activities, network, fc_ids=[])

    steps = [worker.config()["max_concurrent_local_activities"] for worker in configured]
    assert steps[0] == 7  # the order workflow's worker; the FC workers run no local activity
    ships = {worker.config()["max_concurrent_activities"] for worker in configured[1:]}
    assert ships == {3}  # each FC's worker
    assert len(configured) == 1 + len(network_spec.network.ids())
    assert default[0].config()["max_concurrent_local_activities"] == Settings().worker_db_steps
    assert Settings().worker_db_steps < 15  # below the connection pool: a few left for ship


async def test_the_order_worker_holds_so_many_workflow_tasks_on_so_many_threads(
    time_skipping_env: WorkflowEnvironment, activities: OrderActivities, network_spec: NetworkSpec
) -> None:
    client, network = time_skipping_env.client, network_spec.network
    configured = order_workers(
        client, "orders-five", activities, network, ["sea"], workflow_tasks=5, workflow_threads=3
    )
    default = order_workers(client, "orders-default", activities, network, fc_ids=[])

    orders, fc = configured[0].config(), configured[1].config()
    assert orders["max_concurrent_workflow_tasks"] == 5
    assert threads_of(configured[0]) == 3
    assert not fc.get("workflows") and fc.get("workflow_task_executor") is None  # ship only

    settings = Settings()
    assert default[0].config()["max_concurrent_workflow_tasks"] == settings.worker_workflow_tasks
    assert threads_of(default[0]) == settings.worker_workflow_threads
    # Room for every database step in progress, and a running and a ready task per thread.
    assert settings.worker_workflow_tasks >= (
        settings.worker_db_steps + 2 * settings.worker_workflow_threads
    )
    assert settings.worker_workflow_threads <= 2  # the GIL: more only share one core

    shutdown_workflow_threads(configured + default)
    executor = orders.get("workflow_task_executor")
    assert executor is not None and executor._shutdown


def threads_of(worker: Worker) -> int:
    executor = worker.config().get("workflow_task_executor")
    assert executor is not None
    return int(executor._max_workers)


def test_workflow_slots_refuse_what_the_sdk_cannot_run() -> None:
    with pytest.raises(ValueError, match="tasks >= 2"):
        WorkflowSlots(tasks=1, threads=1, db_steps=12)  # a sticky queue needs 2
    with pytest.raises(ValueError, match="threads >= 1"):
        WorkflowSlots(tasks=16, threads=0, db_steps=12)
