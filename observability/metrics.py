"""DOMS metrics in Prometheus form, and where each process serves them.

- `doms_orders_total{event, order_type, mode, fulfilment_centre}`: lifecycle events, counted
  by the activity that recorded them, in whichever process ran it (the API places and
  allocates with the outbox intake, the workers do the rest). `allocated` and `shipped`
  count once per FC of the order; the other events once per order, with no FC.
- `doms_order_intake_duration_seconds{status_code}`: `POST /orders` as the API answered it.
- `doms_requests_shed_total{route, reason}`: requests the API's admission control refused
  with 503 before any route ran (api/admission.py), by why: `in_flight`, `waiting`.
- `doms_order_phase_hours{phase, order_type, mode}`: T_order, T_shipping, T_delivery and
  T_f (`fulfilment`) of each delivered order, in simulated hours, as the reports read them.
- `doms_stock_available_units` and `doms_fc_backlog_orders`, per FC a worker serves, read
  from the app database in the background, so a scrape never waits on it.

The API serves them at `GET /metrics`; a worker on `metrics_port`, and the Temporal SDK's
own metrics (task slots, schedule-to-start latency) on `temporal_metrics_port`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import Final, Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    start_http_server,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from domain.orders import Mode, OrderStatus, OrderType
from domain.timings import Timings
from store import inventory

logger = logging.getLogger("doms.metrics")

PLACED: Final = "placed"  # not a status: every recorded order, whatever became of it
OrderEvent = OrderStatus | Literal["placed"]

# POST /orders answers in milliseconds; the target is a p95 of 50 ms.
INTAKE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 10)
# Simulated hours: T_order is a fraction of an hour, T_f of an international order days.
PHASE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4, 6, 8, 10, 12, 16, 24, 36, 48, 72, 168)
FC_GAUGE_SECONDS = 5.0  # how often a worker reads stock and backlog; Prometheus scrapes at 10 s
FC_GAUGE_TIMEOUT_SECONDS = 2.0  # a slower read is given up: the gauges keep their values

# No *_created series beside every counter and histogram (the function is untyped).
disable_created_metrics()  # type: ignore[no-untyped-call]

ORDERS = Counter(
    "doms_orders",
    "Order lifecycle events; allocated and shipped count once per fulfilment centre.",
    ["event", "order_type", "mode", "fulfilment_centre"],
)
INTAKE_SECONDS = Histogram(
    "doms_order_intake_duration_seconds",
    "Response time of POST /orders, by status code.",
    ["status_code"],
    buckets=INTAKE_BUCKETS,
)
REQUESTS_SHED = Counter(
    "doms_requests_shed",
    "Requests refused with 503 by admission control, unanswerable in time: in_flight, waiting.",
    ["route", "reason"],
)
PHASE_HOURS = Histogram(
    "doms_order_phase_hours",
    "Simulated hours of each phase of a delivered order: order, shipping, delivery, fulfilment.",
    ["phase", "order_type", "mode"],
    buckets=PHASE_BUCKETS,
)
STOCK_AVAILABLE = Gauge(
    "doms_stock_available_units",
    "Units available to promise at a fulfilment centre, over all its SKUs.",
    ["fulfilment_centre"],
)
FC_BACKLOG = Gauge(
    "doms_fc_backlog_orders",
    "Orders with units reserved at a fulfilment centre and not yet shipped.",
    ["fulfilment_centre"],
)


def count_order(
    event: OrderEvent,
    order_type: OrderType | None,
    mode: Mode | None,
    fulfilment_centre: str = "",
) -> None:
    """One lifecycle event of an order; an unknown type or mode is labelled ""."""
    ORDERS.labels(
        str(event),
        order_type.value if order_type else "",
        mode.value if mode else "",
        fulfilment_centre,
    ).inc()


def count_shed(route: str, reason: str) -> None:
    """One request of `route` ("POST /orders") refused by admission control, and why."""
    REQUESTS_SHED.labels(route, reason).inc()


def observe_phases(order_type: OrderType, mode: Mode, timings: Timings) -> None:
    """The phase hours of a delivered order; a phase not recorded is left out."""
    phases = {
        "order": timings.order_hours,
        "shipping": timings.shipping_hours,
        "delivery": timings.delivery_hours,
        "fulfilment": timings.fulfilment_hours,
    }
    for phase, hours in phases.items():
        if hours is not None:
            PHASE_HOURS.labels(phase, order_type.value, mode.value).observe(hours)


def exposition() -> tuple[bytes, str]:
    """This process's metrics as Prometheus text, and its media type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


class IntakeTimer:
    """ASGI middleware: times every `POST /orders` to its last byte, labelled by status.

    Outside the routes and the limits, so that a 422 of the validator, a 409 or 503 of a
    problem handler and a 413 or 429 of the limits count as well; a request that raised
    counts as 500.
    """

    def __init__(self, app: ASGIApp, path: str = "/orders") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answer = StatusOf(send, unanswered=500)
        try:
            await self.app(scope, receive, answer.send)
        finally:
            INTAKE_SECONDS.labels(str(answer.status)).observe(time.perf_counter() - started)


class StatusOf:
    """Passes an ASGI app's messages on to `send`, noting the status it answers with
    (`unanswered` until it starts its response)."""

    def __init__(self, send: Send, unanswered: int) -> None:
        self._send = send
        self.status = unanswered

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)


# --- A worker's metrics ----------------------------------------------------------------------


def temporal_runtime(host: str, port: int) -> Runtime | None:
    """A Temporal runtime that serves the SDK's metrics on host:port, for Client.connect.

    None (the default runtime, no metrics) when the port is 0 or taken: a worker still works.
    """
    if not port:
        return None
    address = f"{host}:{port}"
    try:
        return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))
    except ValueError as error:  # the SDK's "Failed starting Prometheus exporter"
        logger.warning("no Temporal SDK metrics on %s: %s", address, error)
        return None


@asynccontextmanager
async def worker_metrics(
    host: str,
    port: int,
    sessions: async_sessionmaker[AsyncSession],
    fc_ids: Collection[str],
) -> AsyncIterator[None]:
    """Serve this process's metrics on host:port while the worker runs, with the stock and
    backlog gauges of the FCs it serves kept fresh. Port 0 turns it off; a port taken is
    logged, and the worker runs on without metrics."""
    if not port:
        yield
        return
    try:
        server, _ = start_http_server(port, addr=host)
    except OSError as error:
        logger.warning("no metrics on %s:%d: %s", host, port, error)
        yield
        return
    logger.info("metrics on http://%s:%d/metrics", host, port)
    refreshing = asyncio.create_task(keep_fc_gauges_fresh(sessions, fc_ids), name="fc-gauges")
    try:
        yield
    finally:
        refreshing.cancel()
        await asyncio.gather(refreshing, return_exceptions=True)
        await asyncio.to_thread(server.shutdown)
        server.server_close()


async def keep_fc_gauges_fresh(
    sessions: async_sessionmaker[AsyncSession], fc_ids: Collection[str]
) -> None:
    """Refresh the FC gauges every FC_GAUGE_SECONDS, until cancelled; none to keep: return."""
    while fc_ids:
        await refresh_fc_gauges(sessions, fc_ids)
        await asyncio.sleep(FC_GAUGE_SECONDS)


async def refresh_fc_gauges(
    sessions: async_sessionmaker[AsyncSession], fc_ids: Collection[str]
) -> bool:
    """Read available units and backlog of `fc_ids` into the gauges, in one short session.

    False when the database failed or was slow: the gauges keep their last values.
    """
    try:
        async with asyncio.timeout(FC_GAUGE_TIMEOUT_SECONDS), sessions() as session:
            available = await inventory.available_by_centre(session, fc_ids)
            backlog = await inventory.backlog_by_centre(session, fc_ids)
    except Exception as error:  # any failure of the database; metrics must go on
        logger.warning("cannot read stock and backlog for metrics: %r", error)
        return False
    for fc_id in fc_ids:
        STOCK_AVAILABLE.labels(fc_id).set(available[fc_id])
        FC_BACKLOG.labels(fc_id).set(backlog[fc_id])
    return True
