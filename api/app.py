"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from activities.faults import CrashPoint
from api.admission import AdmissionControl, AdmissionGate
from api.auth import KeyVerifier, VerifiedKeys
from api.idempotency import sweep_expired_keys
from api.intake import Intake
from api.limits import BodySizeLimit, RateLimit
from api.openapi import DomsApi
from api.problems import install_problem_handlers
from api.routes import health, inventory, metrics, orders, reports, shipments, surveys
from api.token_bucket import TokenBuckets
from doms.network_file import load_network_spec
from doms.settings import Settings
from doms.temporal_client import connect_temporal
from observability.metrics import IntakeTimer
from observability.tracing import flush_spans, temporal_interceptors, trace_app, trace_engine
from placing.service import Placing
from store.db import create_engine, session_factory
from workflows.relay import OutboxRelay

STOP_RECHECK_SECONDS = 1.0


@asynccontextmanager
async def _running(*jobs: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """Background jobs (the key sweeper) work while the app serves."""
    tasks = [asyncio.create_task(job) for job in jobs]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            # A cancel that lands inside a database call can be swallowed there: the key
            # sweeper then went on to its 5-minute pause and the app never stopped. Cancel
            # again until the job has ended.
            while not (await asyncio.wait([task], timeout=STOP_RECHECK_SECONDS))[0]:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def create_app(
    settings: Settings | None = None, tracer_provider: TracerProvider | None = None
) -> FastAPI:
    """The API; traced (requests, Temporal calls, SQL) when given a tracer provider."""
    settings = settings or Settings()
    # Shared by authentication and the rate limit, which is built before the lifespan runs.
    verified_keys = VerifiedKeys(settings.api_key_cache_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.app_database_url)
        trace_engine(engine, tracer_provider)
        app.state.settings = settings
        app.state.sessions = session_factory(engine)
        app.state.keys = KeyVerifier(app.state.sessions, verified_keys)
        # Lazy: the API starts (and /readyz says why it is not ready) even before Temporal.
        app.state.temporal = temporal = await connect_temporal(
            settings,
            lazy=True,
            interceptors=temporal_interceptors(tracer_provider),
        )
        placing = Placing(app.state.sessions, load_network_spec(settings.network_file))
        relay = OutboxRelay(temporal, app.state.sessions, settings.task_queue)
        app.state.intake = Intake(
            settings,
            temporal,
            placing,
            relay,
            app.state.sessions,
            CrashPoint(settings.fault_crash_after_accept),
        )
        async with _running(sweep_expired_keys(app.state.sessions)):
            yield
        await engine.dispose()
        await flush_spans(tracer_provider)

    app = DomsApi(
        title="DOMS — Distributed Order Management System",
        version="0.1.0",
        summary="Orders sourced to the nearest fulfilment centre, each a Temporal workflow.",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    trace_app(app, tracer_provider)
    # The last added runs first: refuse what is over a limit before reading or routing it.
    if settings.admission_max_in_flight or settings.admission_max_wait_seconds:
        # Inside the body limit, which bounds the body it reads first; behind the rate limit,
        # so a client over its rate takes no place in line.
        gate = AdmissionGate(settings.admission_max_in_flight, settings.admission_max_wait_seconds)
        app.add_middleware(AdmissionControl, gate=gate)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.rate_limit_per_second > 0:
        buckets = TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst)
        app.add_middleware(RateLimit, buckets=buckets, verified=verified_keys)
    app.add_middleware(IntakeTimer)  # outermost: a 413, 429 or 503 of POST /orders is timed too
    for module in (orders, surveys, inventory, shipments, reports, health, metrics):
        app.include_router(module.router)
    return app
