"""Each FC's work runs on its own task queue: with its worker stopped, its orders wait,
and they complete when it returns; nothing is lost."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
from system import RunningSystem, eventually, system_env

from doms.network_file import load_network_spec

NEW_YORK = {"country": "US", "postal_code": "10001", "lat": 40.75, "lon": -73.99}
SEATTLE = {"country": "US", "postal_code": "98101", "lat": 47.61, "lon": -122.33}


def order_to(destination: dict[str, Any]) -> dict[str, Any]:
    return {
        "customer_id": "c-regional",
        "order_type": "standard",
        "destination": destination,
        "lines": [{"sku": "SKU-0042", "quantity": 1}],
    }


async def status_of(http: httpx.AsyncClient, order_id: str) -> str:
    status: str = (await http.get(f"/orders/{order_id}")).json()["status"]
    return status


async def delivered(http: httpx.AsyncClient, order_ids: list[str]) -> None:
    async def all_delivered() -> bool | None:
        statuses = [await status_of(http, order_id) for order_id in order_ids]
        return True if set(statuses) == {"delivered"} else None

    await eventually(all_delivered, within=90, what=f"orders {order_ids} delivered")


async def test_orders_of_a_stopped_fc_worker_wait_and_complete_when_it_returns(
    tmp_path: Path,
) -> None:
    every_other_centre = [c for c in load_network_spec(None).network.ids() if c != "ewr"]
    env = system_env(tmp_path, speedup=36_000)
    env["DOMS_WORKER_FCS"] = json.dumps(every_other_centre)
    system = RunningSystem(tmp_path, env)
    await system.start()
    try:
        async with system.client() as http:
            waiting = [
                (await http.post("/orders", json=order_to(NEW_YORK))).json() for _ in range(3)
            ]
            served = (await http.post("/orders", json=order_to(SEATTLE))).json()
            assert {o["allocations"][0]["fulfilment_centre"] for o in waiting} == {"ewr"}

            await delivered(http, [served["order_id"]])
            assert {await status_of(http, o["order_id"]) for o in waiting} == {"allocated"}

            worker = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "doms",
                "worker",
                "--fc",
                "ewr",
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=(tmp_path / "ewr-worker.log").open("w"),
            )
            try:
                await delivered(http, [o["order_id"] for o in waiting])
            finally:
                worker.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(worker.wait(), 30) == 0
    finally:
        assert system.stop() == 0, system.log_tail()
