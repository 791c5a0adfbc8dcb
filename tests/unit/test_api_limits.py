"""Input limits of the HTTP API: body size, rate limit, unknown fields, and their OpenAPI.

The app runs in process with no Temporal and an empty in-memory database: every request
here is answered before a route would need either.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from problem_details import problem
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from api.app import create_app
from api.auth import Principal, VerifiedKeys, authenticated
from api.limits import RateLimit
from api.problems import PROBLEM_JSON
from api.token_bucket import TokenBuckets
from domain.access import Role
from doms.settings import Settings
from store.db import create_engine, session_factory

OPERATOR = Principal("k-operator", Role.OPERATOR, None)
JSON_HEADERS = {"content-type": "application/json"}
ORDER = {
    "customer_id": "c-42",
    "order_type": "standard",
    "destination": {"country": "US", "postal_code": "10001", "lat": 40.75, "lon": -73.99},
    "lines": [{"sku": "SKU-0001", "quantity": 2}],
}


def api(tmp_path: Path, **settings: Any) -> FastAPI:
    """The app with its state set as its lifespan would, but with nothing behind it.

    Every caller is an operator: authentication has tests of its own
    (tests/integration/test_api_access.py), and there are no keys to check here."""
    app_settings = Settings(var_dir=tmp_path, **settings)
    app = create_app(app_settings)
    app.dependency_overrides[authenticated] = lambda: OPERATOR
    app.state.settings = app_settings
    app.state.sessions = session_factory(create_engine("sqlite+aiosqlite:///:memory:"))
    app.state.intake = app.state.temporal = None  # never reached: the tests are refused first
    return app


def client(app: FastAPI, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://doms", headers=headers
    )


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with client(api(tmp_path, max_body_bytes=2048, rate_limit_per_second=0)) as http:
        yield http


# --- body size -------------------------------------------------------------------------------


async def test_a_body_declared_over_the_limit_is_refused_unread(
    http: httpx.AsyncClient,
) -> None:
    body = problem(await http.post("/orders", content=b"x" * 2049), 413)
    assert body["limit_bytes"] == 2048


async def test_a_chunked_body_is_refused_once_it_passes_the_limit(
    http: httpx.AsyncClient,
) -> None:
    sent = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):  # 100 KiB offered, no Content-Length
            sent.append(1)
            yield b"x" * 1024

    response = await http.post("/orders", content=chunks())
    assert "content-length" not in response.request.headers
    problem(response, 413)
    assert len(sent) < 10  # refused while streaming, not after reading it all


async def test_a_body_within_the_limit_reaches_the_route(http: httpx.AsyncClient) -> None:
    response = await http.post("/orders", json=ORDER | {"lines": []})
    assert [error["field"] for error in problem(response, 422)["errors"]] == ["lines"]


# --- rate limit ------------------------------------------------------------------------------


async def test_a_client_over_its_burst_is_answered_429_with_retry_after(tmp_path: Path) -> None:
    app = api(tmp_path, rate_limit_per_second=0.5, rate_limit_burst=3)
    async with client(app) as http:
        statuses = [(await http.get("/orders", params={"limit": 0})).status_code for _ in range(3)]
        refused = await http.get("/orders", params={"limit": 0})
    assert statuses == [422, 422, 422]  # through the limit to the route
    problem(refused, 429)
    assert refused.headers["retry-after"] == "2"  # one token at 0.5/s


async def test_made_up_credentials_share_their_address_bucket(tmp_path: Path) -> None:
    """A new Authorization header per request buys no fresh bucket: none of them verified."""
    app = api(tmp_path, rate_limit_per_second=0.01, rate_limit_burst=2)
    statuses = []
    for attempt in range(3):
        async with client(app, authorization=f"Bearer doms_{attempt:016x}_guess") as http:
            statuses.append((await http.get("/no-such-page")).status_code)
    assert statuses == [404, 404, 429]


async def ok(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("ok")(scope, receive, send)


def limited(verified: VerifiedKeys) -> RateLimit:
    return RateLimit(ok, TokenBuckets(rate=0.01, burst=1), verified)


async def status_of(limit: RateLimit, address: str, authorization: str | None = None) -> int:
    headers = {"authorization": authorization} if authorization else {}
    transport = httpx.ASGITransport(limit, client=(address, 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://doms") as http:
        return (await http.get("/orders", headers=headers)).status_code


async def test_each_verified_key_has_a_bucket_of_its_own_wherever_it_comes_from() -> None:
    verified = VerifiedKeys(ttl_seconds=0)  # not trusted for auth, still known as a key
    verified.remember("doms_k1_secret", Principal("k1", Role.CUSTOMER, "c-1"))
    verified.remember("doms_k2_secret", Principal("k2", Role.CUSTOMER, "c-2"))
    limit = limited(verified)

    assert await status_of(limit, "10.0.0.1", "Bearer doms_k1_secret") == 200
    assert await status_of(limit, "10.0.0.2", "Bearer doms_k1_secret") == 429  # same key
    assert await status_of(limit, "10.0.0.1", "Bearer doms_k2_secret") == 200
    assert await status_of(limit, "10.0.0.1") == 200  # the address's own bucket
    assert await status_of(limit, "10.0.0.1", "Bearer doms_k1_wrong") == 429  # the address's


async def test_a_key_refused_since_is_charged_to_its_address_again() -> None:
    verified = VerifiedKeys(ttl_seconds=30)
    verified.remember("doms_k1_secret", Principal("k1", Role.OPERATOR, None))
    limit = limited(verified)
    assert await status_of(limit, "10.0.0.1", "Bearer doms_k1_secret") == 200

    verified.forget("doms_k1_secret")  # as KeyVerifier does when it no longer verifies

    assert await status_of(limit, "10.0.0.1", "Bearer doms_k1_secret") == 200  # a new bucket
    assert await status_of(limit, "10.0.0.1") == 429


async def test_probes_and_scrapes_are_never_limited(tmp_path: Path) -> None:
    app = api(tmp_path, rate_limit_per_second=0.01, rate_limit_burst=1)
    async with client(app) as http:
        for _ in range(5):
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.get("/metrics")).status_code == 200
        assert (await http.get("/no-such-page")).status_code == 404  # its token is untouched


async def test_a_rate_of_zero_turns_the_limit_off(http: httpx.AsyncClient) -> None:
    statuses = {(await http.get("/no-such-page")).status_code for _ in range(300)}
    assert statuses == {404}


# --- unknown fields: no mass assignment --------------------------------------------------------

SURVEY = {"delivery_time": 5, "accuracy": 4, "overall": 5}
DESTINATION = ORDER["destination"]
RECEIPT = {"fulfilment_centre": "sea", "sku": "SKU-0001", "quantity": 5}


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/orders", ORDER | {"status": "delivered"}, "status"),
        ("POST", "/orders", ORDER | {"order_id": "o-mine"}, "order_id"),
        ("POST", "/orders", ORDER | {"mode": "centralized"}, "mode"),
        (
            "POST",
            "/orders",
            ORDER | {"lines": [{"sku": "SKU-0001", "quantity": 1, "price": 0}]},
            "lines.0.price",
        ),
        (
            "POST",
            "/orders",
            ORDER | {"destination": DESTINATION | {"fulfilment_centre": "sea"}},
            "destination.fulfilment_centre",
        ),
        (
            "POST",
            "/orders",
            ORDER | {"backorder": {"max_wait_hours": 1, "priority": 9}},
            "backorder.priority",
        ),
        ("POST", "/orders/o-1/survey", SURVEY | {"customer_id": "c-1"}, "customer_id"),
        (
            "POST",
            "/orders/o-1/survey",
            SURVEY | {"answered_at": "2026-01-01T00:00:00Z"},
            "answered_at",
        ),
        ("POST", "/orders/o-1/cancel", {"reason": "x", "status": "cancelled"}, "status"),
        ("PATCH", "/orders/o-1/destination", DESTINATION | {"order_id": "o-2"}, "order_id"),
        ("POST", "/shipments/o-1-sea/events", {"kind": "delivered", "status": "x"}, "status"),
        ("POST", "/inventory/receipts", RECEIPT | {"available": 10**6}, "available"),
    ],
)
async def test_every_input_refuses_unknown_fields_naming_them(
    http: httpx.AsyncClient, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    response = await http.request(method, path, json=body)
    assert field in [error["field"] for error in problem(response, 422)["errors"]]


# --- bounds --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (ORDER | {"lines": [{"sku": "SKU-0001", "quantity": 1}] * 101}, "lines"),
        (ORDER | {"lines": [{"sku": "SKU-0001", "quantity": 10_001}]}, "lines.0.quantity"),
        (ORDER | {"lines": [{"sku": "SKU-0001", "quantity": 0}]}, "lines.0.quantity"),
        (ORDER | {"customer_id": "c" * 65}, "customer_id"),
        (ORDER | {"lines": [{"sku": "S" * 33, "quantity": 1}]}, "lines.0.sku"),
        (
            ORDER | {"destination": DESTINATION | {"postal_code": "1" * 17}},
            "destination.postal_code",
        ),
        (ORDER | {"destination": DESTINATION | {"country": "U\u0000"}}, "destination.country"),
        (ORDER | {"backorder": {"max_wait_hours": float("inf")}}, "backorder.max_wait_hours"),
        (ORDER | {"destination": DESTINATION | {"lat": float("nan")}}, "destination.lat"),
    ],
)
async def test_orders_out_of_bounds_are_refused_naming_the_field(
    tmp_path: Path, body: dict[str, Any], field: str
) -> None:
    async with client(api(tmp_path, rate_limit_per_second=0)) as http:  # default body limit
        # json.dumps writes an infinite float as `Infinity`, as a careless client might.
        response = await http.post("/orders", content=json.dumps(body), headers=JSON_HEADERS)
    assert field in [error["field"] for error in problem(response, 422)["errors"]]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/orders", {"limit": 201}, "limit"),
        ("/orders", {"limit": 0}, "limit"),
        ("/orders", {"cursor": "x" * 65}, "cursor"),
        ("/orders", {"customer_id": "c" * 65}, "customer_id"),
        ("/inventory", {"limit": 501}, "limit"),
        ("/inventory", {"sku": "S" * 33}, "sku"),
        ("/inventory", {"cursor": "sea|" + "S" * 80}, "cursor"),
        ("/orders/" + "o" * 65, {}, "order_id"),
    ],
)
async def test_query_and_path_parameters_are_bounded(
    http: httpx.AsyncClient, path: str, params: dict[str, Any], field: str
) -> None:
    response = await http.get(path, params=params)
    assert field in [error["field"] for error in problem(response, 422)["errors"]]


# --- the OpenAPI document says all of it ------------------------------------------------------


@pytest.fixture
def document(tmp_path: Path) -> dict[str, Any]:
    return api(tmp_path).openapi()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, by_method in document["paths"].items():
        for method, operation in by_method.items():
            yield path, method, operation


def test_every_operation_taking_a_body_declares_413(document: dict[str, Any]) -> None:
    with_body = [(p, m) for p, m, op in operations(document) if "requestBody" in op]
    assert len(with_body) == 6
    for path, method, operation in operations(document):
        assert ("413" in operation["responses"]) == ("requestBody" in operation), (path, method)


def test_every_limited_operation_declares_429_with_retry_after(document: dict[str, Any]) -> None:
    for path, _, operation in operations(document):
        limited = path not in ("/healthz", "/readyz", "/metrics")
        assert ("429" in operation["responses"]) == limited, path
        if limited:
            assert "Retry-After" in operation["responses"]["429"]["headers"]


def test_every_error_is_declared_as_a_problem_document(document: dict[str, Any]) -> None:
    errors = 0
    for _, _, operation in operations(document):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                errors += 1
                assert list(response["content"]) == [PROBLEM_JSON]
    assert errors > 30
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert document["components"]["schemas"]["Problem"]["required"] == [
        "title",
        "status",
        "detail",
    ]


async def test_a_body_that_is_not_utf8_is_invalid_input(http: httpx.AsyncClient) -> None:
    response = await http.post("/orders", content=b"\xff", headers=JSON_HEADERS)
    assert [error["field"] for error in problem(response, 422)["errors"]] == ["body"]
