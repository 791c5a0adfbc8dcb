"""doms/worker.py: how the workers of `doms worker` are configured."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from activities.orders import OrderActivities
from domain.network_spec import NetworkSpec
from doms.settings import Settings
from doms.worker import order_workers
from store.db import create_engine, session_factory


async def test_workers_run_only_so_many_database_and_ship_steps_at_once(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str, network_spec: NetworkSpec
) -> None:
    engine = create_engine(sqlite_url)
    activities = OrderActivities(session_factory(engine), network_spec)
    try:
        configured = order_workers(
            time_skipping_env.client,
            "orders-seven",
            activities,
            network_spec.network,
            db_steps=7,
            ship_steps=3,
        )
        default = order_workers(
            time_skipping_env.client, "orders-default", activities, network_spec.network, fc_ids=[]
        )
    finally:
        await engine.dispose()

    steps = [worker.config()["max_concurrent_local_activities"] for worker in configured]
    assert steps[0] == 7  # the order workflow's worker; the FC workers run no local activity
    ships = {worker.config()["max_concurrent_activities"] for worker in configured[1:]}
    assert ships == {3}  # each FC's worker
    assert len(configured) == 1 + len(network_spec.network.ids())
    assert default[0].config()["max_concurrent_local_activities"] == Settings().worker_db_steps
    assert Settings().worker_db_steps < 15  # below the connection pool: a few left for ship
