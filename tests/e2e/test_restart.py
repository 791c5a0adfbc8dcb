"""Accepted orders survive `doms up` being stopped and started again on the same var/."""

from __future__ import annotations

from typing import Any

from system import RunningSystem, eventually, system_env

ORDER = {
    "customer_id": "c-restart",
    "order_type": "standard",
    "destination": {"country": "US", "postal_code": "60601", "lat": 41.88, "lon": -87.63},
    "lines": [{"sku": "SKU-0007", "quantity": 1}],
}


async def test_orders_in_flight_when_the_system_stops_are_delivered_after_a_restart(
    tmp_path: Any,
) -> None:
    # At 1,200x an order takes several real seconds, so all are in flight at the stop.
    system = RunningSystem(tmp_path, system_env(tmp_path, speedup=1200))
    await system.start()
    async with system.client() as http:
        ids = [(await http.post("/orders", json=ORDER)).json()["order_id"] for _ in range(5)]
        statuses = [(await http.get(f"/orders/{i}")).json()["status"] for i in ids]
    assert system.stop() == 0, system.log_tail()
    assert "delivered" not in statuses
    keys_before = system.keys

    await system.start()
    assert system.keys == keys_before, "a restart reuses the API keys that still work"
    try:
        async with system.client() as http:

            async def all_delivered() -> bool | None:
                orders = [(await http.get(f"/orders/{i}")).json() for i in ids]
                return True if all(o["status"] == "delivered" for o in orders) else None

            await eventually(all_delivered, within=90, what="every order delivered")
    finally:
        assert system.stop() == 0, system.log_tail()
