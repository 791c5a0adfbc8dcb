"""Who may call what: the API in this process, on a migrated database (SQLite, PostgreSQL).

Only what the store answers is asked here (no Temporal runs): keys, roles, and a customer
seeing its own orders alone. tests/e2e/test_doms_up_keys.py drives the running system.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from problem_details import problem
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from warehouse import OrderDesk

from api.app import create_app
from api.auth import KeyVerifier, VerifiedKeys
from api.problems import PROBLEM_JSON
from domain.access import ApiToken, Role
from domain.orders import OrderLine
from doms.local_system import free_port
from doms.settings import Settings
from store import api_keys

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SURVEY = {"delivery_time": 5, "accuracy": 5, "overall": 5}
DESTINATION = {"country": "US", "postal_code": "10001", "lat": 40.75, "lon": -73.99}
ORDER = {
    "order_type": "standard",
    "destination": DESTINATION,
    "lines": [{"sku": "SKU-0001", "quantity": 1}],
}
OPEN_PATHS = ("/healthz", "/metrics", "/docs", "/openapi.json")
ANY_KEY_PATHS = ("/fulfilment-centres",)  # every role's key may call these


@dataclass
class Keys:
    operator: str
    carrier: str
    alice: str  # customer c-alice
    bob: str  # customer c-bob


@dataclass
class Orders:
    alice: str
    bob: str


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def keys(db_sessions: async_sessionmaker[AsyncSession]) -> Keys:
    async with db_sessions() as session:

        async def token(role: Role, customer_id: str | None = None) -> str:
            return (await api_keys.create_key(session, role, NOW, customer_id)).token

        return Keys(
            operator=await token(Role.OPERATOR),
            carrier=await token(Role.CARRIER),
            alice=await token(Role.CUSTOMER, "c-alice"),
            bob=await token(Role.CUSTOMER, "c-bob"),
        )


@pytest.fixture
async def orders(db_sessions: async_sessionmaker[AsyncSession]) -> Orders:
    """One order of each customer, recorded (as rejected: no stock or Temporal needed)."""
    desk = OrderDesk(db_sessions)
    placed = []
    for customer in ("c-alice", "c-bob"):
        order = desk.order(OrderLine("SKU-0001", 1), customer_id=customer)
        await desk.reject(order, "recorded by the test")
        placed.append(order.order_id)
    return Orders(*placed)


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    """The API as `doms api` runs it; its Temporal client is lazy and never used here: no
    order is accepted, so its relay finds nothing to start."""
    settings = Settings(
        database_url=database_url,
        temporal_address=f"127.0.0.1:{free_port()}",
        api_key_cache_seconds=0,  # a revocation shows at once
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://doms") as client:
        yield client


# --- 401: no key, or not a valid one ---------------------------------------------------------


async def test_no_key_is_401_with_a_bearer_challenge(http: httpx.AsyncClient) -> None:
    for method, path in (("GET", "/orders"), ("GET", "/inventory"), ("POST", "/orders")):
        response = await http.request(method, path)
        problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer", path


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer nonsense",
        "Bearer doms_0123456789abcdef_not-the-secret",
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "doms_0123456789abcdef_secret",
    ],
)
async def test_a_malformed_unknown_or_non_bearer_key_is_401(
    http: httpx.AsyncClient, keys: Keys, authorization: str
) -> None:
    response = await http.get("/orders", headers={"Authorization": authorization})

    problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_key_with_a_wrong_secret_is_401(http: httpx.AsyncClient, keys: Keys) -> None:
    token = ApiToken.parse(keys.operator)
    assert token is not None
    forged = ApiToken(token.key_id, ApiToken.new().secret)

    problem(await http.get("/orders", headers=bearer(str(forged))), 401)


async def test_a_revoked_key_is_401(
    http: httpx.AsyncClient, keys: Keys, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    assert (await http.get("/orders", headers=bearer(keys.operator))).status_code == 200
    token = ApiToken.parse(keys.operator)
    assert token is not None
    async with db_sessions() as session:
        assert await api_keys.revoke(session, token.key_id, NOW)

    problem(await http.get("/orders", headers=bearer(keys.operator)), 401)


async def test_probes_metrics_and_docs_need_no_key(http: httpx.AsyncClient) -> None:
    for path in OPEN_PATHS:
        assert (await http.get(path)).status_code == 200, path


# --- 403: the wrong role ---------------------------------------------------------------------


async def test_a_carrier_may_post_shipment_events_only(
    http: httpx.AsyncClient, keys: Keys, orders: Orders
) -> None:
    carrier = bearer(keys.carrier)
    for method, path in (
        ("GET", "/orders"),
        ("GET", f"/orders/{orders.alice}"),
        ("POST", f"/orders/{orders.alice}/survey"),
        ("GET", "/inventory"),
        ("GET", "/reports/performance"),
    ):
        problem(await http.request(method, path, headers=carrier, json=SURVEY), 403)
    # Let through: no such shipment, said by the route itself.
    event = {"kind": "delivered"}
    response = await http.post("/shipments/nothing-ewr/events", headers=carrier, json=event)
    problem(response, 404)


async def test_a_customer_may_not_see_stock_reports_or_post_shipment_events(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    alice = bearer(keys.alice)
    for method, path in (
        ("GET", "/inventory"),
        ("POST", "/inventory/receipts"),
        ("GET", "/reports/performance"),
        ("GET", "/reports/fulfilment"),
        ("GET", "/reports/satisfaction"),
        ("POST", "/shipments/x-ewr/events"),
    ):
        body = problem(await http.request(method, path, headers=alice), 403)
        assert "customer" in body["detail"], path


async def test_an_operator_may_see_stock_and_reports(http: httpx.AsyncClient, keys: Keys) -> None:
    operator = bearer(keys.operator)
    for path in ("/inventory", "/fulfilment-centres", "/reports/performance"):
        assert (await http.get(path, headers=operator)).status_code == 200, path


async def test_every_role_lists_the_centres_and_only_operators_see_their_capacity(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    async def centres(token: str) -> dict[str, dict[str, Any]]:
        response = await http.get("/fulfilment-centres", headers=bearer(token))
        assert response.status_code == 200, response.text
        return {centre["id"]: centre for centre in response.json()}

    operators = await centres(keys.operator)
    assert operators and all(c["capacity_per_hour"] > 0 for c in operators.values())
    for token in (keys.alice, keys.carrier):
        listed = await centres(token)
        assert listed == {
            fc_id: centre | {"capacity_per_hour": None} for fc_id, centre in operators.items()
        }


async def test_stock_of_an_unknown_centre_is_a_404_naming_the_field(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    operator = bearer(keys.operator)
    response = await http.get(
        "/inventory", headers=operator, params={"fulfilment_centre": "nowhere"}
    )

    assert problem(response, 404) == {
        "type": "about:blank",
        "title": "Unknown fulfilment centre",
        "status": 404,
        "detail": "fulfilment_centre: no fulfilment centre 'nowhere'",
        "errors": [{"field": "fulfilment_centre", "message": "no fulfilment centre 'nowhere'"}],
    }
    known = await http.get("/inventory", headers=operator, params={"fulfilment_centre": "ewr"})
    assert known.status_code == 200 and known.json()["items"]


# --- a customer's own orders -----------------------------------------------------------------


async def test_a_customer_lists_only_its_own_orders_and_an_operator_all(
    http: httpx.AsyncClient, keys: Keys, orders: Orders
) -> None:
    async def listed(token: str, **params: str) -> set[str]:
        response = await http.get("/orders", headers=bearer(token), params=params)
        assert response.status_code == 200, response.text
        return {order["order_id"] for order in response.json()["items"]}

    assert await listed(keys.alice) == {orders.alice}
    assert await listed(keys.bob) == {orders.bob}
    assert await listed(keys.alice, customer_id="c-bob") == set()
    assert await listed(keys.alice, customer_id="c-alice") == {orders.alice}
    assert await listed(keys.operator) == {orders.alice, orders.bob}
    assert await listed(keys.operator, customer_id="c-bob") == {orders.bob}


async def test_another_customers_order_is_404_exactly_like_a_missing_one(
    http: httpx.AsyncClient, keys: Keys, orders: Orders
) -> None:
    alice = bearer(keys.alice)
    assert (await http.get(f"/orders/{orders.alice}", headers=alice)).status_code == 200

    for order_id in (orders.bob, "no-such-order"):
        gets = problem(await http.get(f"/orders/{order_id}", headers=alice), 404)
        surveys = problem(
            await http.post(f"/orders/{order_id}/survey", headers=alice, json=SURVEY), 404
        )
        cancels = problem(await http.post(f"/orders/{order_id}/cancel", headers=alice), 404)
        moves = problem(
            await http.patch(f"/orders/{order_id}/destination", headers=alice, json=DESTINATION),
            404,
        )
        for body in (gets, surveys, cancels, moves):
            assert body == {
                "type": "about:blank",
                "title": "Order not found",
                "status": 404,
                "detail": f"no order {order_id}",
            }


async def test_a_customer_reaches_the_survey_of_its_own_order(
    http: httpx.AsyncClient, keys: Keys, orders: Orders
) -> None:
    """Past the ownership check: the store says the (rejected) order is not delivered."""
    response = await http.post(
        f"/orders/{orders.alice}/survey", headers=bearer(keys.alice), json=SURVEY
    )

    assert problem(response, 409)["title"] == "Order not delivered"


async def test_an_operator_sees_any_customers_order(
    http: httpx.AsyncClient, keys: Keys, orders: Orders
) -> None:
    response = await http.get(f"/orders/{orders.bob}", headers=bearer(keys.operator))

    assert response.status_code == 200
    assert response.json()["customer_id"] == "c-bob"


async def test_a_customer_may_not_place_an_order_for_another_customer(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    order = ORDER | {"customer_id": "c-bob"}

    body = problem(await http.post("/orders", headers=bearer(keys.alice), json=order), 403)

    assert body["errors"][0]["field"] == "customer_id"


# --- the cache of verified keys --------------------------------------------------------------


async def test_a_revoked_key_works_on_only_until_the_cache_forgets_it(
    db_sessions: async_sessionmaker[AsyncSession], keys: Keys
) -> None:
    now = [0.0]
    verifier = KeyVerifier(db_sessions, VerifiedKeys(ttl_seconds=30, clock=lambda: now[0]))
    first = await verifier.verify(keys.carrier)
    assert first is not None and first.role is Role.CARRIER
    token = ApiToken.parse(keys.carrier)
    assert token is not None
    async with db_sessions() as session:
        await api_keys.revoke(session, token.key_id, NOW)

    now[0] = 29.9
    assert await verifier.verify(keys.carrier) == first  # cached: the database is not asked
    now[0] = 30.0
    assert await verifier.verify(keys.carrier) is None


async def test_the_rate_limit_charges_a_key_once_it_verified_and_made_up_keys_to_the_address(
    database_url: str, keys: Keys
) -> None:
    settings = Settings(
        database_url=database_url,
        temporal_address=f"127.0.0.1:{free_port()}",
        rate_limit_per_second=0.01,
        rate_limit_burst=1,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://doms") as http:

            async def status(headers: dict[str, str]) -> int:
                return (await http.get("/orders", headers=headers)).status_code

            first = await status(bearer(keys.alice))  # not verified yet: the address's token
            made_up = await status(bearer(str(ApiToken.new())))
            again = await status(bearer(keys.alice))  # verified now: its own bucket
            spent = await status(bearer(keys.alice))

    assert (first, made_up, again, spent) == (200, 429, 200, 429)


# --- the OpenAPI document --------------------------------------------------------------------


async def test_openapi_declares_bearer_auth_and_401_403_on_every_protected_route(
    http: httpx.AsyncClient,
) -> None:
    document = (await http.get("/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    assert [scheme["scheme"] for scheme in schemes.values()] == ["bearer"]

    protected = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path in OPEN_PATHS or path == "/readyz":
                assert "security" not in operation, (method, path)
                continue
            protected += 1
            assert operation.get("security"), (method, path)
            refused = {"401"} if path in ANY_KEY_PATHS else {"401", "403"}
            assert refused <= set(operation["responses"]), (method, path)
    assert protected >= 12


async def test_openapi_declares_the_404_of_stock_for_an_unknown_centre(
    http: httpx.AsyncClient,
) -> None:
    document = (await http.get("/openapi.json")).json()
    listing = document["paths"]["/inventory"]["get"]["responses"]
    centres = document["paths"]["/fulfilment-centres"]["get"]["responses"]

    assert listing["404"]["content"] == {
        PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    assert "403" not in centres  # no role is refused
