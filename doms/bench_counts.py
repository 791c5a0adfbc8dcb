"""A phase's orders as the app database has them, for `doms bench system`.

Each phase tags its orders: their customer ids start with the run's and the phase's tag
(`phase_tag`), so the database can count one phase's orders alone. Counting every order
instead, as the bench once did through GET /reports/performance, let two kinds of order
leak into a phase's figures: those of an earlier phase still in flight when it began, and
those the API accepted for a request the bench had given up on (a client-side timeout),
which it never counted as placed. Under overload both happen, and a run printed "557 of
549 placed orders delivered".

The bench reads the database itself rather than through the API, so that polling the
counts costs the API nothing: its CPU per order is one of the figures.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from domain.orders import FINAL_STATUSES, OrderStatus
from doms.settings import Settings
from store.models import OrderRow


def run_id() -> str:
    """Tells this run's orders from those of an earlier run on the same database."""
    return secrets.token_hex(3)


def phase_tag(run: str, phase: str) -> str:
    """The customer-id prefix of one phase's orders. It ends in a character no phase name
    holds, so no tag is the start of another ("intake-5:" is not a prefix of "intake-50:")."""
    if ":" in run or ":" in phase:
        raise ValueError(f"a phase tag cannot hold ':': {run!r}, {phase!r}")
    return f"{run}.{phase}:"


def tagged(bodies: Sequence[dict[str, Any]], tag: str) -> list[dict[str, Any]]:
    """The order bodies, each customer id prefixed with the phase's tag."""
    return [{**body, "customer_id": f"{tag}{body['customer_id']}"} for body in bodies]


@dataclass(frozen=True)
class OrderCounts:
    """One phase's orders in the app database. Refused orders (409) are stored too, as
    rejected: they are no accepted order."""

    accepted: int
    delivered: int
    not_final: int
    by_status: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, by_status: Mapping[str, int]) -> OrderCounts:
        counts = {status: count for status, count in sorted(by_status.items()) if count}
        return cls(
            accepted=sum(n for status, n in counts.items() if status != OrderStatus.REJECTED),
            delivered=counts.get(OrderStatus.DELIVERED, 0),
            not_final=sum(n for status, n in counts.items() if status not in FINAL_STATUSES),
            by_status=counts,
        )

    @property
    def final_by_status(self) -> dict[str, int]:
        return {s: n for s, n in self.by_status.items() if s in FINAL_STATUSES}


def pending(counts: OrderCounts, placed: int) -> int:
    """Orders still to become final: those in flight, and any the API answered 201 for that
    are not in the database (none should be)."""
    return counts.not_final + max(0, placed - counts.accepted)


def discrepancies(placed: int, errors: Mapping[str, int], counts: OrderCounts) -> list[str]:
    """Where the database disagrees with the bench, which counted `placed` answers 201 and
    `errors` (by outcome) otherwise."""
    notes = []
    if (extra := counts.accepted - placed) > 0:
        note = f"{extra} accepted beyond the {placed} answered 201"
        if errors:
            outcomes = ", ".join(f"{outcome} {n}" for outcome, n in errors.items())
            note += f" (some of the bench's errors were accepted all the same: {outcomes})"
        notes.append(note)
    elif extra < 0:
        notes.append(f"{-extra} of the {placed} orders answered 201 are not in the database")
    delivered_or_refused = (OrderStatus.DELIVERED, OrderStatus.REJECTED)
    if undelivered := {s: n for s, n in counts.by_status.items() if s not in delivered_or_refused}:
        statuses = ", ".join(f"{status} {n}" for status, n in undelivered.items())
        notes.append(f"{sum(undelivered.values())} accepted not delivered ({statuses})")
    return notes


def reconciliation(placed: int, errors: Mapping[str, int], counts: OrderCounts) -> str:
    """The database's counts beside the bench's, and plainly where they differ."""
    head = f"{counts.accepted} accepted, {counts.delivered} delivered"
    if notes := discrepancies(placed, errors, counts):
        return f"{head}; MISMATCH: {'; '.join(notes)}"
    return f"{head}: as the bench counted ({placed} placed)"


def database_url(env: Mapping[str, str]) -> str:
    """The app database of a stack started with `env`, as its own processes find it."""
    given = Settings(var_dir=Path(env["DOMS_VAR_DIR"]), database_url=env.get("DOMS_DATABASE_URL"))
    return given.app_database_url


class AppDatabase:
    """Read-only counts of tagged orders, on a connection of the bench's own."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def counts(self, tag: str) -> OrderCounts:
        query = (
            select(OrderRow.status, func.count())
            # LIKE, not a range: a range on PostgreSQL follows the collation, which may
            # ignore punctuation such as the tag's ':'.
            .where(OrderRow.customer_id.startswith(tag, autoescape=True))
            .group_by(OrderRow.status)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return OrderCounts.of({str(status): int(count) for status, count in rows})


@asynccontextmanager
async def app_database(url: str) -> AsyncIterator[AppDatabase]:
    engine = create_async_engine(url, pool_size=1)  # one poll at a time
    try:
        yield AppDatabase(engine)
    finally:
        await engine.dispose()
