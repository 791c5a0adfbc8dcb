"""`Idempotency-Key` on POST /orders, with the semantics of the payment APIs people know.

The same key with the same body replays the first final answer (status, body, Location) with
`Idempotent-Replayed: true`; with another body it is a 422; while the first request is in
flight, a 409. A key's order id is chosen when it is first locked, so that a retry after the
API died in any window reuses it: the order's primary key (outbox intake) or update-with-start
(workflow intake) then finds what the first attempt made instead of making a second order.
Server failures (5xx) are not answers: the key is released and a retry places the order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import re
from datetime import UTC, datetime, timedelta

from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.messages import OrderRequest
from api.intake import Intake, answer_to, is_final, order_request
from api.problems import PROBLEM_JSON, Problem, invalid_field, problem_response
from api.schemas import OrderCreate
from observability.trace_context import untraced
from store import idempotency
from store.idempotency import ClaimTerms, IdempotencyKey, KeyRecord, StoredAnswer
from store.orders import OrderAlreadyRecorded

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
_VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")  # printable ASCII
# A request holds its key this much longer than POST /orders may wait for a placement, so
# that only a request whose process died loses it.
LEASE_MARGIN = timedelta(seconds=30)
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
    async with intake.sessions() as session:
        claimed = await idempotency.claim(session, key, _terms(intake, fingerprint, request))
    if not claimed.ours:
        return _answer_from(claimed.record, fingerprint)
    # A key taken over keeps the order id its first request chose.
    request = dataclasses.replace(request, order_id=claimed.record.order_id)
    try:
        placement = await intake.place(request, key)
    except Problem as problem:
        if not is_final(problem.status):
            await _release(intake.sessions, key)
        raise
    except OrderAlreadyRecorded:  # a request still holding the key (past its lease) made it
        return await _answer_recorded(intake.sessions, key, fingerprint)
    except Exception:
        await _release(intake.sessions, key)
        raise
    return _response(answer_to(request, placement))


async def sweep_expired_keys(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Delete keys kept long enough, in batches, every few minutes; until cancelled."""
    while True:
        try:
            with untraced():  # housekeeping, no one's request
                while await _sweep_batch(sessions) == SWEEP_BATCH:
                    pass
        except SQLAlchemyError:  # the database is unavailable: next time
            logger.exception("could not delete expired idempotency keys")
        await asyncio.sleep(SWEEP_EVERY_SECONDS)  # a period, not a wait for anything


async def _sweep_batch(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return await idempotency.remove_expired(session, datetime.now(UTC), SWEEP_BATCH)


def _terms(intake: Intake, fingerprint: str, request: OrderRequest) -> ClaimTerms:
    settings = intake.settings
    return ClaimTerms(
        request_hash=fingerprint,
        order_id=request.order_id,
        now=datetime.now(UTC),
        lease=timedelta(seconds=settings.placement_timeout_seconds) + LEASE_MARGIN,
        keep_for=timedelta(hours=settings.idempotency_ttl_hours),
    )


def _answer_from(record: KeyRecord, fingerprint: str) -> Response:
    """The answer to a request whose key another request holds or has answered."""
    if record.request_hash != fingerprint:
        raise invalid_field(HEADER, "already used with a different request body")
    if record.answer is None:
        return problem_response(
            409,
            "Request in progress",
            f"a request with this {HEADER} is still being processed; retry shortly",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return _response(record.answer, replayed=True)


async def _answer_recorded(
    sessions: async_sessionmaker[AsyncSession], key: IdempotencyKey, fingerprint: str
) -> Response:
    async with sessions() as session:
        record = await idempotency.record_of(session, key)
    assert record is not None, "a key in use is never deleted"
    return _answer_from(record, fingerprint)


def _response(answer: StoredAnswer, *, replayed: bool = False) -> Response:
    headers = {REPLAYED: "true"} if replayed else {}
    if answer.location:
        headers["Location"] = answer.location
    media_type = PROBLEM_JSON if answer.status_code >= 400 else None
    return JSONResponse(answer.body, answer.status_code, headers, media_type)


async def _release(sessions: async_sessionmaker[AsyncSession], key: IdempotencyKey) -> None:
    """Let a retry take the key at once. If even that fails, its lease runs out on its own."""
    try:
        async with sessions() as session:
            await idempotency.release(session, key, datetime.now(UTC))
    except SQLAlchemyError:
        logger.exception("could not release idempotency key %r", key.key)
