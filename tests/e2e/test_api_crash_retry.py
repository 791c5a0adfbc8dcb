"""The API dies between accepting an order and answering: the client's retry with the same
Idempotency-Key gets that one order, which is delivered by exactly one workflow run."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from system import RunningSystem, eventually, order_in_status, system_env
from temporalio.client import Client

from activities.faults import CRASH_EXIT_CODE

ORDER = {
    "customer_id": "c-crash",
    "order_type": "standard",
    "destination": {"country": "US", "postal_code": "60601", "lat": 41.88, "lon": -87.63},
    "lines": [{"sku": "SKU-0005", "quantity": 1}],
}
KEY = {"Idempotency-Key": "crash-test-0001"}
DOMS_UP_STOPS_ALL = 1  # `doms up` stops everything when one of its processes dies


async def runs_of(temporal: Client, order_id: str) -> list[str]:
    query = f'WorkflowId = "order-{order_id}"'
    return [wf.run_id async for wf in temporal.list_workflows(query)]


async def test_a_retry_after_the_api_died_before_answering_gets_the_one_order(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "crashed-after-accept"
    env = system_env(tmp_path, speedup=36_000, DOMS_FAULT_CRASH_AFTER_ACCEPT=str(marker))
    system = RunningSystem(tmp_path, env)
    await system.start()
    async with system.client() as http:
        with pytest.raises(httpx.TransportError):  # committed, then died without answering
            await http.post("/orders", json=ORDER, headers=KEY)
    assert system.process is not None
    assert system.process.wait(timeout=60) == DOMS_UP_STOPS_ALL
    assert marker.exists() and f"doms api exited with code {CRASH_EXIT_CODE}" in system.log_tail()

    await system.start()  # the same var dir: the same databases, the marker stays
    try:
        async with system.client() as http:
            retry = await http.post("/orders", json=ORDER, headers=KEY)
            assert retry.status_code == 201, retry.text
            order_id = retry.json()["order_id"]
            page = (await http.get("/orders", params={"customer_id": "c-crash"})).json()
            await order_in_status(http, order_id, "delivered", within=60)
        temporal = await Client.connect(system.temporal_address)
        runs = await eventually(
            lambda: _listed(temporal, order_id), within=20, what="the order's workflow listed"
        )
    finally:
        assert system.stop() == 0, system.log_tail()

    assert retry.headers["idempotent-replayed"] == "true"  # answered in the order's transaction
    assert [order["order_id"] for order in page["items"]] == [order_id]
    assert len(runs) == 1


async def _listed(temporal: Client, order_id: str) -> list[str] | None:
    return await runs_of(temporal, order_id) or None  # visibility is eventually consistent
