"""Admission control of POST /orders (api/admission.py): 503 with Retry-After once the
process holds more than it can answer in time; everything else untouched.

Handlers block on an asyncio.Event the test sets, and the gate's clock is a number the
test moves: nothing here sleeps or waits on time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from problem_details import problem
from prometheus_client import REGISTRY
from starlette.types import Message, Receive, Scope, Send

from api.admission import MAX_RETRY_AFTER_SECONDS, AdmissionControl, AdmissionGate, Refusal
from api.app import create_app
from api.auth import Principal, authenticated
from domain.access import Role
from doms.settings import Settings

ORDER = {"customer_id": "c-42", "lines": [{"sku": "SKU-0001", "quantity": 2}]}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def admitted(gate: AdmissionGate) -> int:
    ticket = gate.admit()
    assert isinstance(ticket, int), ticket
    return ticket


def refused(gate: AdmissionGate) -> Refusal:
    refusal = gate.admit()
    assert isinstance(refusal, Refusal), refusal
    return refusal


# --- the gate --------------------------------------------------------------------------------


def test_the_gate_holds_at_most_max_in_flight_and_admits_again_as_they_leave() -> None:
    gate = AdmissionGate(max_in_flight=2, max_wait_seconds=0)
    first, _ = admitted(gate), admitted(gate)

    assert refused(gate).reason == "in_flight"
    assert gate.in_flight == 2

    gate.leave(first)
    admitted(gate)
    assert refused(gate).reason == "in_flight"


def test_the_gate_refuses_while_the_head_of_the_line_waits_past_the_deadline() -> None:
    clock = Clock()
    gate = AdmissionGate(max_in_flight=0, max_wait_seconds=2.0, clock=clock)
    head = admitted(gate)
    clock.now += 1.0
    second = admitted(gate)  # the head has waited 1 s of 2

    clock.now += 1.5
    refusal = refused(gate)
    assert (refusal.reason, refusal.retry_after) == ("waiting", 3)  # 2.5 s, rounded up

    gate.leave(head)  # the line moves: the new head has waited 1.5 s
    assert gate.head_wait() == 1.5
    admitted(gate)
    gate.leave(second)


def test_a_request_later_ones_overtook_does_not_hold_up_the_line() -> None:
    """A request stuck on its own (others behind it are answered) is not a queue."""
    clock = Clock()
    gate = AdmissionGate(max_in_flight=3, max_wait_seconds=2.0, clock=clock)
    stuck = admitted(gate)
    gate.leave(admitted(gate))  # a later one was answered: the stuck one is overtaken

    clock.now += 60.0
    assert gate.head_wait() == 0.0
    after = admitted(gate)  # not refused, though the stuck one has waited 60 s
    assert gate.in_flight == 2  # it still holds its place in flight
    admitted(gate)
    assert refused(gate).reason == "in_flight"

    gate.leave(stuck)
    gate.leave(after)
    assert gate.in_flight == 1


def test_an_answer_that_placed_nothing_overtakes_no_one() -> None:
    """A 422 answered at once while the database is stalled says nothing of the line."""
    clock = Clock()
    gate = AdmissionGate(max_in_flight=0, max_wait_seconds=2.0, clock=clock)
    waiting = admitted(gate)
    gate.leave(admitted(gate), placed=False)

    clock.now += 3.0
    assert refused(gate).reason == "waiting"
    gate.leave(waiting)
    admitted(gate)


def test_retry_after_is_the_head_s_wait_at_least_one_second_and_bounded() -> None:
    clock = Clock()
    gate = AdmissionGate(max_in_flight=1, max_wait_seconds=0, clock=clock)
    admitted(gate)
    assert refused(gate).retry_after == 1  # it has not waited yet
    clock.now += 3600.0
    assert refused(gate).retry_after == MAX_RETRY_AFTER_SECONDS


def test_zero_turns_each_bound_off() -> None:
    clock = Clock()
    gate = AdmissionGate(max_in_flight=0, max_wait_seconds=0, clock=clock)
    for _ in range(1000):
        admitted(gate)
    clock.now += 3600.0
    admitted(gate)
    with pytest.raises(ValueError):
        AdmissionGate(max_in_flight=-1, max_wait_seconds=0)


# --- the middleware, around a handler the test releases ---------------------------------------


class Handler:
    """An ASGI app: POST /orders reads its body, then waits for `release`, then answers 201
    with that body; any other request is answered 200 at once."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.bodies: list[bytes] = []
        self._entered = asyncio.Condition()

    async def entered(self, count: int) -> None:
        """Return once `count` orders have reached the handler."""
        async with self._entered:
            await self._entered.wait_for(lambda: len(self.bodies) >= count)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, body = 200, b"{}"
        if (scope["method"], scope["path"]) == ("POST", "/orders"):
            body = await self._body(receive)
            async with self._entered:
                self.bodies.append(body)
                self._entered.notify_all()
            await self.release.wait()
            status = 201
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _body(receive: Receive) -> bytes:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)


def shed_count(reason: str) -> float:
    labels = {"route": "POST /orders", "reason": reason}
    return REGISTRY.get_sample_value("doms_requests_shed_total", labels) or 0.0


def http_to(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://doms")


@pytest.fixture
def handler() -> Handler:
    return Handler()


async def test_orders_beyond_the_bound_get_503_and_the_admitted_ones_still_succeed(
    handler: Handler,
) -> None:
    controlled = AdmissionControl(handler, AdmissionGate(max_in_flight=2, max_wait_seconds=0))
    shed_before = shed_count("in_flight")
    async with http_to(controlled) as http:
        held = [asyncio.create_task(http.post("/orders", json=ORDER | {"n": n})) for n in (1, 2)]
        await handler.entered(2)

        over = await http.post("/orders", json=ORDER | {"n": 3})
        body = problem(over, 503)
        assert body["reason"] == "in_flight"
        assert over.headers["retry-after"] == "1"
        assert len(handler.bodies) == 2  # the refused order never reached the handler
        assert shed_count("in_flight") == shed_before + 1

        # Other routes pass while the bound is reached.
        assert (await http.get("/orders")).status_code == 200
        assert (await http.post("/orders/o-1/cancel", json={})).status_code == 200
        assert (await http.get("/healthz")).status_code == 200

        handler.release.set()
        answers = await asyncio.gather(*held)
        assert [answer.status_code for answer in answers] == [201, 201]
        assert sorted(json.loads(answer.content)["n"] for answer in answers) == [1, 2]

        again = await http.post("/orders", json=ORDER | {"n": 4})  # room again
    assert again.status_code == 201
    assert len(handler.bodies) == 3


async def test_orders_are_refused_while_the_oldest_waits_past_the_deadline(
    handler: Handler,
) -> None:
    clock = Clock()
    gate = AdmissionGate(max_in_flight=100, max_wait_seconds=5.0, clock=clock)
    async with http_to(AdmissionControl(handler, gate)) as http:
        held = asyncio.create_task(http.post("/orders", json=ORDER))
        await handler.entered(1)
        clock.now += 7.2

        late = await http.post("/orders", json=ORDER)
        assert problem(late, 503)["reason"] == "waiting"
        assert late.headers["retry-after"] == "8"

        handler.release.set()
        assert (await held).status_code == 201
        assert (await http.post("/orders", json=ORDER)).status_code == 201
    assert len(handler.bodies) == 2


async def test_a_body_in_chunks_reaches_the_handler_whole(handler: Handler) -> None:
    handler.release.set()
    gate = AdmissionGate(max_in_flight=1, max_wait_seconds=0)
    content = json.dumps(ORDER).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(content), 7):
            yield content[start : start + 7]

    async with http_to(AdmissionControl(handler, gate)) as http:
        answer = await http.post("/orders", content=chunks())
    assert answer.status_code == 201
    assert handler.bodies == [content]
    assert gate.in_flight == 0


async def test_a_client_still_sending_its_body_holds_no_place(handler: Handler) -> None:
    """The line starts once the body is in: a slow sender waits on itself."""
    handler.release.set()
    gate = AdmissionGate(max_in_flight=1, max_wait_seconds=0)
    controlled = AdmissionControl(handler, gate)
    messages: asyncio.Queue[Message] = asyncio.Queue()
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/orders", "headers": []}
    slow = asyncio.create_task(controlled(scope, messages.get, send))
    await messages.put({"type": "http.request", "body": b'{"customer', "more_body": True})

    async with http_to(controlled) as http:
        assert (await http.post("/orders", json=ORDER)).status_code == 201

    await messages.put({"type": "http.disconnect"})  # it gave up before the rest came
    await slow
    assert sent == []  # nothing to answer to a client that left
    assert len(handler.bodies) == 1
    assert gate.in_flight == 0


# --- in the app --------------------------------------------------------------------------------


class BlockingAuth:
    """Authentication that waits for `release`: a request there has been admitted."""

    def __init__(self) -> None:
        self.release, self.arrived = asyncio.Event(), asyncio.Event()
        self.calls = 0

    async def __call__(self) -> Principal:
        self.calls += 1
        self.arrived.set()
        await self.release.wait()
        return Principal("k-operator", Role.OPERATOR, None)


def app_with(tmp_path: Path, auth: BlockingAuth, **settings: Any) -> FastAPI:
    """The app, its state as the lifespan would set it, authenticating through `auth`.

    Its orders are invalid (no lines): once authenticated they end in 422 before any
    intake, so nothing but admission control is tested here."""
    app_settings = Settings(var_dir=tmp_path, rate_limit_per_second=0, **settings)
    app = create_app(app_settings)
    app.state.settings = app_settings
    app.state.intake = app.state.temporal = app.state.sessions = None
    app.dependency_overrides[authenticated] = auth
    return app


async def test_the_app_sheds_post_orders_beyond_its_setting(tmp_path: Path) -> None:
    auth = BlockingAuth()
    app = app_with(tmp_path, auth, admission_max_in_flight=1)
    invalid = ORDER | {"lines": []}
    async with http_to(app) as http:
        held = asyncio.create_task(http.post("/orders", json=invalid))
        await auth.arrived.wait()  # the route's dependencies run: it was admitted

        shed = await http.post("/orders", json=invalid)
        assert problem(shed, 503)["title"] == "Overloaded"
        assert int(shed.headers["retry-after"]) >= 1
        assert auth.calls == 1  # refused before any dependency ran
        assert (await http.get("/healthz")).status_code == 200

        auth.release.set()
        problem(await held, 422)
        problem(await http.post("/orders", json=invalid), 422)  # admitted again
    assert auth.calls == 2


def test_zero_and_zero_install_no_admission_control(tmp_path: Path) -> None:
    on = create_app(Settings(var_dir=tmp_path))
    off = create_app(
        Settings(var_dir=tmp_path, admission_max_in_flight=0, admission_max_wait_seconds=0)
    )
    assert AdmissionControl in middleware_of(on)
    assert AdmissionControl not in middleware_of(off)


def middleware_of(app: FastAPI) -> list[object]:
    return [middleware.cls for middleware in app.user_middleware]


def test_the_default_bound_leaves_room_for_the_bench_s_closed_loop() -> None:
    assert Settings().admission_max_in_flight > 50  # `doms bench system` keeps 50 in flight


def test_post_orders_declares_the_503_with_retry_after(tmp_path: Path) -> None:
    document = create_app(Settings(var_dir=tmp_path)).openapi()
    unavailable = document["paths"]["/orders"]["post"]["responses"]["503"]
    assert "Overloaded" in unavailable["description"]
    assert "Retry-After" in unavailable["headers"]
    assert "Retry-After" not in document["paths"]["/orders"]["get"]["responses"]["503"].get(
        "headers", {}
    )
