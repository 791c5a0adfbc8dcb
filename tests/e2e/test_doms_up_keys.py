"""API keys on the real system: the keys `doms up` made, and `doms keys` at the command line."""

from __future__ import annotations

import asyncio
import stat
import sys
from typing import Any

from problem_details import problem
from system import RunningSystem, eventually, order_in_status

from doms.local_keys import DEMO_CUSTOMER_ID, keys_file

DESTINATION = {"country": "US", "postal_code": "10001", "lat": 40.75, "lon": -73.99}
ORDER = {
    "order_type": "standard",
    "destination": DESTINATION,
    "lines": [{"sku": "SKU-0002", "quantity": 1}],
}
SURVEY = {"delivery_time": 4, "accuracy": 5, "overall": 4}


async def doms_keys(system: RunningSystem, *args: str) -> tuple[int, str, str]:
    """`doms keys ARGS` on the system's database: (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "doms", "keys", *args, env=system.env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_doms_up_writes_its_keys_to_an_owner_only_file_and_prints_them(
    fast_system: RunningSystem,
) -> None:
    path = keys_file(fast_system.var_dir)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = fast_system.keys
    assert keys.customer_id == DEMO_CUSTOMER_ID

    async def banner() -> str | None:  # printed once doms up itself saw the API ready
        log = (fast_system.var_dir / "up.log").read_text()
        return log if "DOMS is up" in log else None

    log = await eventually(banner, within=30, what="the banner of doms up")
    assert keys.operator in log and keys.customer in log and str(path) in log


async def test_the_demo_customer_places_sees_and_rates_only_its_own_orders(
    fast_system: RunningSystem,
) -> None:
    async with (
        fast_system.client(fast_system.keys.customer) as customer,
        fast_system.client() as operator,
    ):
        placed = await customer.post("/orders", json=ORDER | {"customer_id": DEMO_CUSTOMER_ID})
        assert placed.status_code == 201, placed.text
        own = placed.json()["order_id"]
        other = await operator.post("/orders", json=ORDER | {"customer_id": "c-someone-else"})
        assert other.status_code == 201, other.text
        others = other.json()["order_id"]

        listed = (await customer.get("/orders", params={"limit": 200})).json()["items"]
        assert {order["customer_id"] for order in listed} == {DEMO_CUSTOMER_ID}
        assert own in {order["order_id"] for order in listed}
        problem(await customer.get(f"/orders/{others}"), 404)
        problem(await customer.post(f"/orders/{others}/cancel"), 404)
        forbidden = problem(
            await customer.post("/orders", json=ORDER | {"customer_id": "c-someone-else"}), 403
        )
        assert forbidden["errors"][0]["field"] == "customer_id"
        problem(await customer.get("/inventory"), 403)
        problem(await customer.get("/reports/performance"), 403)

        await order_in_status(operator, others, "delivered")
        problem(await customer.post(f"/orders/{others}/survey", json=SURVEY), 404)
        await order_in_status(customer, own, "delivered")
        rated = await customer.post(f"/orders/{own}/survey", json=SURVEY)
        assert rated.status_code == 201, rated.text
        operator_view: dict[str, Any] = (await operator.get(f"/orders/{others}")).json()
        assert operator_view["customer_id"] == "c-someone-else"


async def test_keys_made_and_revoked_at_the_command_line(fast_system: RunningSystem) -> None:
    code, token, err = await doms_keys(fast_system, "create", "--role", "carrier", "--label", "t")
    assert code == 0, err
    token = token.strip()
    key_id = token.split("_")[1]

    async with fast_system.client(token) as carrier, fast_system.client("") as anonymous:
        problem(await carrier.get("/orders"), 403)
        event = await carrier.post("/shipments/none-ewr/events", json={"kind": "delivered"})
        problem(event, 404)  # let in: there is no such shipment
        missing = await anonymous.get("/orders")
        problem(missing, 401)
        assert missing.headers["www-authenticate"] == "Bearer"

    # A key this API has never verified is not in its cache: its revocation shows at once.
    code, unused, err = await doms_keys(fast_system, "create", "--role", "operator")
    assert code == 0, err
    unused = unused.strip()
    code, _, err = await doms_keys(fast_system, "revoke", unused.split("_")[1])
    assert code == 0, err
    async with fast_system.client(unused) as revoked:
        problem(await revoked.get("/orders"), 401)

    code, listing, err = await doms_keys(fast_system, "list")
    assert code == 0, err
    [carrier_line] = [line for line in listing.splitlines() if line.startswith(key_id)]
    assert "carrier" in carrier_line and "active" in carrier_line
    assert token not in listing
    code, _, err = await doms_keys(fast_system, "create", "--role", "customer")
    assert code == 2 and "customer id" in err
