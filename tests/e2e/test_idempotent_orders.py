"""`Idempotency-Key` on POST /orders, on the real stack: a retry gets the first answer again and
never a second order, another body with the key is refused, and a request finding the key in
use waits its turn."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from problem_details import problem
from sqlalchemy.ext.asyncio import AsyncSession
from system import RunningSystem, fields_named

from api.idempotency import request_hash
from api.intake import new_order_id
from api.schemas import OrderCreate
from domain.access import ApiToken
from store import idempotency
from store.db import create_engine, session_factory
from store.idempotency import ClaimTerms, IdempotencyKey

# On SQLite only: the key store itself is tested on both databases in
# tests/integration/test_idempotency_keys.py.

ORDER = {
    "customer_id": "c-idem",
    "order_type": "standard",
    "destination": {"country": "US", "postal_code": "10001", "lat": 40.75, "lon": -73.99},
    "lines": [{"sku": "SKU-0003", "quantity": 1}],
}
KEY = "Idempotency-Key"
REPLAYED = "idempotent-replayed"


def order_for(customer_id: str, **changes: Any) -> dict[str, Any]:
    return {**ORDER, "customer_id": customer_id, **changes}


def a_key() -> dict[str, str]:
    return {KEY: str(uuid.uuid4())}


@pytest.fixture
async def http(fast_system: RunningSystem) -> AsyncIterator[httpx.AsyncClient]:
    async with fast_system.client() as client:  # the operator's key
        yield client


@asynccontextmanager
async def app_database(system: RunningSystem) -> AsyncIterator[AsyncSession]:
    """A session on the system's own app database, behind the API's back."""
    engine = create_engine(system.database_url)
    try:
        async with session_factory(engine)() as session:
            yield session
    finally:
        await engine.dispose()


async def orders_of(http: httpx.AsyncClient, customer_id: str) -> list[str]:
    page = (await http.get("/orders", params={"customer_id": customer_id})).json()
    return [order["order_id"] for order in page["items"]]


async def test_a_retry_with_the_key_gets_the_first_answer_and_no_second_order(
    http: httpx.AsyncClient,
) -> None:
    body, key = order_for("c-idem-retry"), a_key()

    first = await http.post("/orders", json=body, headers=key)
    retry = await http.post("/orders", json=body, headers=key)

    assert first.status_code == retry.status_code == 201, first.text
    assert REPLAYED not in first.headers and retry.headers[REPLAYED] == "true"
    assert retry.json() == first.json()
    assert retry.headers["location"] == first.headers["location"]
    assert await orders_of(http, "c-idem-retry") == [first.json()["order_id"]]


async def test_a_refusal_is_a_final_answer_and_is_replayed_too(http: httpx.AsyncClient) -> None:
    body = order_for("c-idem-refused", lines=[{"sku": "SKU-9999", "quantity": 1}])
    key = a_key()

    first = problem(await http.post("/orders", json=body, headers=key), 409)
    retry = await http.post("/orders", json=body, headers=key)

    assert problem(retry, 409) == first and first["unknown_skus"] == ["SKU-9999"]
    assert retry.headers[REPLAYED] == "true"


async def test_the_key_with_another_body_is_refused_naming_the_header(
    http: httpx.AsyncClient,
) -> None:
    key = a_key()
    assert (await http.post("/orders", json=order_for("c-idem-a"), headers=key)).is_success

    reused = await http.post("/orders", json=order_for("c-idem-b"), headers=key)

    assert fields_named(reused) == [KEY]
    assert await orders_of(http, "c-idem-b") == []


async def test_an_order_refused_as_invalid_leaves_the_key_free_for_the_corrected_one(
    http: httpx.AsyncClient,
) -> None:
    key = a_key()
    abroad = order_for("c-idem-fixed", order_type="international")  # but it ships in the US

    refused = await http.post("/orders", json=abroad, headers=key)
    corrected = await http.post("/orders", json=order_for("c-idem-fixed"), headers=key)

    assert fields_named(refused) == ["order_type"]
    assert corrected.status_code == 201, corrected.text
    assert REPLAYED not in corrected.headers


@pytest.mark.parametrize("bad_key", ["", "k" * 256, "clé"])
async def test_a_malformed_key_is_refused_naming_the_header(
    http: httpx.AsyncClient, bad_key: str
) -> None:
    customer = f"c-idem-bad-{len(bad_key)}"
    headers = {KEY: bad_key.encode("latin-1")}  # bytes: httpx would refuse "é" as a str

    refused = await http.post("/orders", json=order_for(customer), headers=headers)

    assert fields_named(refused) == [KEY]
    assert await orders_of(http, customer) == []


async def test_a_request_finding_the_key_in_use_gets_409_then_takes_over_an_abandoned_one(
    http: httpx.AsyncClient, fast_system: RunningSystem
) -> None:
    """The test holds the key itself, as a first request still working (or dead) would."""
    body = order_for("c-idem-held")
    operator = ApiToken.parse(fast_system.keys.operator)
    assert operator is not None
    key = IdempotencyKey(operator.key_id, str(uuid.uuid4()))  # keys are per API key
    held_for = new_order_id()
    terms = ClaimTerms(
        request_hash=request_hash(OrderCreate.model_validate(body)),
        order_id=held_for,
        holder="the-test",
        now=datetime.now(UTC),
        lease=timedelta(hours=1),
        keep_for=timedelta(hours=24),
    )
    async with app_database(fast_system) as session:
        assert (await idempotency.claim(session, key, terms)).ours

    while_held = await http.post("/orders", json=body, headers={KEY: key.key})
    async with app_database(fast_system) as session:  # the first request's process dies
        assert await idempotency.release(session, key, terms.holder, datetime.now(UTC))
    taken_over = await http.post("/orders", json=body, headers={KEY: key.key})

    assert problem(while_held, 409)["title"] == "Request in progress"
    assert while_held.headers["retry-after"] == "1"
    assert taken_over.status_code == 201, taken_over.text
    assert taken_over.json()["order_id"] == held_for  # the id the first request chose
    assert await orders_of(http, "c-idem-held") == [held_for]


async def test_keys_belong_to_their_caller_so_two_callers_never_share_one(
    http: httpx.AsyncClient, fast_system: RunningSystem
) -> None:
    """The same Idempotency-Key from two API keys is two requests, not one replayed."""
    customer_id = fast_system.keys.customer_id
    key = a_key()
    async with fast_system.client(fast_system.keys.customer) as customer:
        theirs = await customer.post("/orders", json=order_for(customer_id), headers=key)
    ours = await http.post("/orders", json=order_for(customer_id), headers=key)

    assert theirs.status_code == ours.status_code == 201, (theirs.text, ours.text)
    assert REPLAYED not in ours.headers
    assert ours.json()["order_id"] != theirs.json()["order_id"]
