"""`Idempotency-Key` on POST /orders, with the semantics of the payment APIs people know.

The same key with the same body replays the first final answer (status, body, Location) with
`Idempotent-Replayed: true`; with another body it is a 422; while the first request is in
flight, a 409. A key's order id is chosen when it is first locked, so that a retry after the
API died in any window reuses it: the order's primary key then finds what the first attempt
made instead of making a second order.
The final answer is recorded as the order placed under the key, in the order's own
transaction (placing/service.py), and rendered here from that: a replay is the first answer.
Server failures (5xx) are not answers: the key is released and a retry places the order. So
is a request cancelled before it answered (its client left, or the server stops).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.messages import OrderRequest
from api.intake import Intake, answer_of, answer_to, is_final, order_request
from api.problems import PROBLEM_JSON, Problem, invalid_field, problem_response
from api.schemas import OrderCreate
from observability.trace_context import current_trace_id, untraced
from store import idempotency
from store.idempotency import ClaimTerms, IdempotencyKey, KeyRecord, StoredAnswer
from store.orders import OrderAlreadyRecorded

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
_VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")  # printable ASCII
# A request holds its key this long: far longer than POST /orders takes, so that only a
# request whose process died loses it.
KEY_LEASE = timedelta(seconds=40)
RETRY_AFTER_SECONDS = 1
SWEEP_EVERY_SECONDS = 300.0
SWEEP_BATCH = 1000
logger = logging.getLogger("doms.api")


def checked_key(value: str) -> str:
    if not _VALID_KEY.fullmatch(value):
        raise invalid_field(HEADER, "must be 1 to 255 printable ASCII characters")
    return value


def request_hash(body: OrderCreate) -> str:
    """sha256 of the validated body as canonical JSON: defaults filled, keys sorted."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def place_once(intake: Intake, body: OrderCreate, key: IdempotencyKey) -> Response:
    """Place the order unless this key already did (or is doing) it."""
    request = order_request(body, intake.settings)  # invalid input never takes the key
    fingerprint = request_hash(body)
    terms = _terms(intake, fingerprint, request)
    async with intake.sessions() as session:
        claimed = await idempotency.claim(session, key, terms)
    if not claimed.ours:
        return _answer_from(claimed.record, fingerprint)
    # A key taken over keeps the order id its first request chose.
    request = dataclasses.replace(request, order_id=claimed.record.order_id)
    try:
        placement = await intake.place(request, key)
    except Problem as problem:
        if not is_final(problem.status):
            await _release(intake.sessions, key, terms.holder)
        raise
    except OrderAlreadyRecorded:  # a request still holding the key (past its lease) made it
        return await _answer_recorded(intake.sessions, key, fingerprint)
    # Cancelled too: the client left or the server stops. Else the retry would meet a 409
    # until the lease ran out. An order recorded meanwhile keeps its answer (see `release`).
    except (Exception, asyncio.CancelledError):
        await _to_the_end(_release(intake.sessions, key, terms.holder))
        raise
    return _response(answer_to(request, placement, current_trace_id()))


async def sweep_expired_keys(
    sessions: async_sessionmaker[AsyncSession],
    *,
    every_seconds: float = SWEEP_EVERY_SECONDS,
    batch: int = SWEEP_BATCH,
    pause: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> None:
    """Delete keys kept long enough, in batches, at once and then every few minutes; until
    cancelled. Short batches keep each delete's transaction (and SQLite's lock) short.
    `pause` waits out the period; tests pass one that stops the loop after some rounds."""
    while True:
        try:
            with untraced():  # housekeeping, no one's request
                while await _sweep_batch(sessions, batch) == batch:
                    pass
        # The database is unavailable (asyncpg raises OSError, unwrapped, when it cannot
        # connect): try again next time rather than end the sweeper for good.
        except (SQLAlchemyError, OSError):
            logger.exception("could not delete expired idempotency keys")
        await pause(every_seconds)  # a period, not a wait for anything


async def _sweep_batch(sessions: async_sessionmaker[AsyncSession], batch: int) -> int:
    async with sessions() as session:
        return await idempotency.remove_expired(session, datetime.now(UTC), batch)


def _terms(intake: Intake, fingerprint: str, request: OrderRequest) -> ClaimTerms:
    settings = intake.settings
    return ClaimTerms(
        request_hash=fingerprint,
        order_id=request.order_id,
        holder=secrets.token_hex(16),
        now=datetime.now(UTC),
        lease=KEY_LEASE,
        keep_for=timedelta(hours=settings.idempotency_ttl_hours),
    )


def _answer_from(record: KeyRecord, fingerprint: str) -> Response:
    """The answer to a request whose key another request holds or has answered."""
    if record.request_hash != fingerprint:
        raise invalid_field(HEADER, "already used with a different request body")
    if record.placed is not None:
        return _response(answer_of(record.placed), replayed=True)
    if record.answer is not None:  # completed before revision 0007: replayed as it was sent
        return _response(record.answer, replayed=True)
    return problem_response(
        409,
        "Request in progress",
        f"a request with this {HEADER} is still being processed; retry shortly",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _answer_recorded(
    sessions: async_sessionmaker[AsyncSession], key: IdempotencyKey, fingerprint: str
) -> Response:
    async with sessions() as session:
        record = await idempotency.record_of(session, key)
    if record is None:  # deleted while held: kept past its time (the sweeper) or by hand
        raise RuntimeError(
            f"idempotency key {key.key!r} was deleted while its request held it: "
            "its order was recorded, but its answer cannot be replayed"
        )
    return _answer_from(record, fingerprint)


def _response(answer: StoredAnswer, *, replayed: bool = False) -> Response:
    headers = {REPLAYED: "true"} if replayed else {}
    if answer.location:
        headers["Location"] = answer.location
    media_type = PROBLEM_JSON if answer.status_code >= 400 else None
    return JSONResponse(answer.body, answer.status_code, headers, media_type)


async def _to_the_end(cleanup: Coroutine[Any, Any, None]) -> None:
    """Run `cleanup` to its end even if this task is cancelled (again) meanwhile, then pass
    that cancellation on."""
    task = asyncio.create_task(cleanup)
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError as cancel:
            cancelled = cancel
    if cancelled is not None:
        raise cancelled


async def _release(
    sessions: async_sessionmaker[AsyncSession], key: IdempotencyKey, holder: str
) -> None:
    """Let a retry take the key at once, unless another request took it over meanwhile.
    If even that fails, its lease runs out on its own."""
    try:
        async with sessions() as session:
            await idempotency.release(session, key, holder, datetime.now(UTC))
    # Logged, not raised: the failure that made us release is what the client must hear.
    except (SQLAlchemyError, OSError):
        logger.exception("could not release idempotency key %r", key.key)
