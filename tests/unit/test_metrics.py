"""The DOMS metrics: what each helper counts, how POST /orders is timed, and where a worker
serves them."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.orders import Mode, OrderStatus, OrderType
from domain.timings import Timings
from doms.local_system import free_port
from observability import metrics
from store.db import create_engine, session_factory
from store.models import StockRow

STANDARD, DISTRIBUTED = OrderType.STANDARD, Mode.DISTRIBUTED


def value(name: str, **labels: str) -> float:
    """The current value of one sample of this process's registry; 0 before it exists."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def orders(
    event: str, order_type: str = "standard", fc: str = "", mode: str = "distributed"
) -> float:
    labels = {"event": event, "order_type": order_type, "mode": mode, "fulfilment_centre": fc}
    return value("doms_orders_total", **labels)


def phase_count(phase: str, order_type: str = "expedited", mode: str = "hybrid") -> float:
    labels = {"phase": phase, "order_type": order_type, "mode": mode}
    return value("doms_order_phase_hours_count", **labels)


def fulfilment_hours_sum() -> float:
    labels = {"phase": "fulfilment", "order_type": "expedited", "mode": "hybrid"}
    return value("doms_order_phase_hours_sum", **labels)


def test_an_order_event_counts_once_under_its_type_mode_and_centre() -> None:
    before = orders("shipped", fc="ewr"), orders("shipped", fc="ord"), orders("placed")

    metrics.count_order(OrderStatus.SHIPPED, STANDARD, DISTRIBUTED, "ewr")

    after = orders("shipped", fc="ewr"), orders("shipped", fc="ord"), orders("placed")
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 0, 0]


def test_an_event_of_an_order_recorded_before_labels_existed_is_counted_unlabelled() -> None:
    before = orders("cancelled", order_type="", mode="")

    metrics.count_order(OrderStatus.CANCELLED, None, None)

    assert orders("cancelled", order_type="", mode="") == before + 1


def test_a_delivered_order_observes_each_phase_and_its_total_in_simulated_hours() -> None:
    phases = ("order", "shipping", "delivery", "fulfilment")
    counts = {phase: phase_count(phase) for phase in phases}
    total = fulfilment_hours_sum()

    metrics.observe_phases(OrderType.EXPEDITED, Mode.HYBRID, Timings(0.05, 1.5, 2.25))

    observed = {phase: phase_count(phase) - counts[phase] for phase in phases}
    assert observed == dict.fromkeys(phases, 1)
    assert fulfilment_hours_sum() - total == pytest.approx(3.8)


def test_a_phase_not_recorded_is_left_out_and_so_is_the_total() -> None:
    phases = ("order", "shipping", "fulfilment")
    before = {phase: phase_count(phase, "international") for phase in phases}

    metrics.observe_phases(OrderType.INTERNATIONAL, Mode.HYBRID, Timings(0.1, None, 8.0))

    after = {phase: phase_count(phase, "international") - before[phase] for phase in before}
    assert after == {"order": 1, "shipping": 0, "fulfilment": 0}


def test_the_exposition_is_prometheus_text_with_every_doms_metric() -> None:
    metrics.count_order(metrics.PLACED, STANDARD, DISTRIBUTED)
    body, media_type = metrics.exposition()

    names = {family.name for family in text_string_to_metric_families(body.decode())}
    assert media_type.startswith("text/plain")
    assert {
        "doms_orders",
        "doms_order_intake_duration_seconds",
        "doms_order_phase_hours",
        "doms_stock_available_units",
        "doms_fc_backlog_orders",
    } <= names
    assert "doms_orders_created" not in body.decode()


# --- POST /orders latency ---------------------------------------------------------------------


class Body(BaseModel):
    quantity: int


def intake_app() -> FastAPI:
    app = FastAPI()

    @app.post("/orders", status_code=201)
    async def place(body: Body) -> dict[str, int]:
        if body.quantity > 100:
            raise RuntimeError("the database went away")
        return {"quantity": body.quantity}

    @app.get("/orders")
    async def listing() -> list[int]:
        return []

    app.add_middleware(metrics.IntakeTimer)
    return app


def intake_count(status_code: str) -> float:
    return value("doms_order_intake_duration_seconds_count", status_code=status_code)


async def test_post_orders_is_timed_by_status_code_including_invalid_and_failed_requests() -> None:
    codes = ("201", "422", "500")
    before = {code: intake_count(code) for code in codes}
    transport = httpx.ASGITransport(intake_app(), raise_app_exceptions=False)

    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        assert (await http.post("/orders", json={"quantity": 1})).status_code == 201
        assert (await http.post("/orders", json={"quantity": 2})).status_code == 201
        assert (await http.post("/orders", json={"quantity": "many"})).status_code == 422
        assert (await http.post("/orders", json={"quantity": 101})).status_code == 500

    assert {code: intake_count(code) - before[code] for code in codes} == {
        "201": 2,
        "422": 1,
        "500": 1,
    }


async def test_other_requests_are_not_timed() -> None:
    before = sum(intake_count(code) for code in ("200", "404", "405"))
    transport = httpx.ASGITransport(intake_app())

    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        assert (await http.get("/orders")).status_code == 200
        assert (await http.post("/orders/1/cancel")).status_code == 404

    assert sum(intake_count(code) for code in ("200", "404", "405")) == before


# --- A worker's metrics -----------------------------------------------------------------------


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


@pytest.fixture
async def broken_sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions of a database that cannot be opened: its directory does not exist."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'gone' / 'doms.db'}")
    yield session_factory(engine)
    await engine.dispose()


async def test_the_gauges_read_available_units_and_backlog_of_each_centre(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    assert await metrics.refresh_fc_gauges(sessions, ["ewr", "sea"])

    async with sessions() as session:
        total = await session.scalar(
            select(func.sum(StockRow.available)).where(StockRow.fc_id == "ewr")
        )
    assert total and value("doms_stock_available_units", fulfilment_centre="ewr") == total
    assert value("doms_fc_backlog_orders", fulfilment_centre="sea") == 0


async def test_a_failing_database_leaves_the_gauges_as_they_were(
    broken_sessions: async_sessionmaker[AsyncSession],
) -> None:
    metrics.FC_BACKLOG.labels("tst").set(7)

    assert await metrics.refresh_fc_gauges(broken_sessions, ["tst"]) is False

    assert value("doms_fc_backlog_orders", fulfilment_centre="tst") == 7


async def test_a_worker_serves_its_metrics_on_its_port_while_it_runs(
    broken_sessions: async_sessionmaker[AsyncSession],
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"

    async with metrics.worker_metrics("127.0.0.1", port, broken_sessions, ["tst"]):
        async with httpx.AsyncClient() as http:
            response = await http.get(url)
        assert response.status_code == 200
        assert "doms_orders_total" in response.text

    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as http:
            await http.get(url)


async def test_a_taken_metrics_port_leaves_the_worker_running_without_metrics(
    taken_port: int,
    broken_sessions: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with metrics.worker_metrics("127.0.0.1", taken_port, broken_sessions, []):
        pass

    assert f"no metrics on 127.0.0.1:{taken_port}" in caplog.text


def test_the_temporal_sdk_metrics_are_off_on_port_zero_or_a_taken_port(
    taken_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    assert metrics.temporal_runtime("127.0.0.1", 0) is None
    assert metrics.temporal_runtime("127.0.0.1", taken_port) is None
    assert f"no Temporal SDK metrics on 127.0.0.1:{taken_port}" in caplog.text
