"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from activities.orders import OrderActivities
from api.auth import KeyVerifier
from api.intake import Intake
from api.problems import install_problem_handlers
from api.routes import health, inventory, metrics, orders, reports, shipments, surveys
from doms.network_file import load_network_spec
from doms.settings import Settings
from doms.temporal_client import connect_temporal
from observability.metrics import IntakeTimer
from observability.tracing import flush_spans, temporal_interceptors, trace_app, trace_engine
from store.db import create_engine, session_factory
from workflows.relay import OutboxRelay


@asynccontextmanager
async def _running(relay: OutboxRelay | None) -> AsyncIterator[None]:
    """The relay works in the background while the app serves."""
    task = asyncio.create_task(relay.run(), name="outbox-relay") if relay else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def create_app(
    settings: Settings | None = None, tracer_provider: TracerProvider | None = None
) -> FastAPI:
    """The API; traced (requests, Temporal calls, SQL) when given a tracer provider."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.app_database_url)
        trace_engine(engine, tracer_provider)
        app.state.settings = settings
        app.state.sessions = session_factory(engine)
        app.state.keys = KeyVerifier(app.state.sessions, settings.api_key_cache_seconds)
        # Lazy: the API starts (and /readyz says why it is not ready) even before Temporal.
        app.state.temporal = temporal = await connect_temporal(
            settings,
            lazy=True,
            interceptors=temporal_interceptors(tracer_provider),
        )
        placing = OrderActivities(app.state.sessions, load_network_spec(settings.network_file))
        relay = None
        if settings.intake == "outbox":
            relay = OutboxRelay(temporal, app.state.sessions, settings.task_queue)
        app.state.intake = Intake(settings, temporal, placing, relay)
        async with _running(relay):
            yield
        await engine.dispose()
        await flush_spans(tracer_provider)

    app = FastAPI(
        title="DOMS — Distributed Order Management System",
        version="0.1.0",
        summary="Orders sourced to the nearest fulfilment centre, each a Temporal workflow.",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    trace_app(app, tracer_provider)
    app.add_middleware(IntakeTimer)
    for module in (orders, surveys, inventory, shipments, reports, health, metrics):
        app.include_router(module.router)
    return app
