"""The relay process (`doms relay`): starts the workflows of the orders the API accepted.

Apart from the API, so starting workflows takes none of the CPU that answers requests, and
the two scale apart: API replicas by requests, relays (usually one; replicas share the rows
by their leases) by orders started.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from doms.settings import Settings
from doms.temporal_client import connect_temporal
from observability.tracing import configure_tracing, flush_spans, temporal_interceptors
from store.db import create_engine, session_factory
from workflows.relay import OutboxRelay

logger = logging.getLogger("doms.relay")


async def run_relay(settings: Settings) -> None:
    """Relay the outbox to Temporal until SIGINT/SIGTERM."""
    tracer_provider = configure_tracing("doms-relay")
    client = await connect_temporal(settings, interceptors=temporal_interceptors(tracer_provider))
    engine = create_engine(settings.app_database_url)
    relay = OutboxRelay(client, session_factory(engine), settings.task_queue)
    relaying = asyncio.create_task(relay.run())
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # A start cut short is safe: its row stays leased, then another pass starts it again,
        # and a start is idempotent by order id.
        loop.add_signal_handler(signum, relaying.cancel)
    logger.info(
        "relaying the outbox to %s, queue %s", settings.temporal_address, settings.task_queue
    )
    try:
        await relaying
    except asyncio.CancelledError:
        logger.info("stopped")
    finally:
        await engine.dispose()
        await flush_spans(tracer_provider)
