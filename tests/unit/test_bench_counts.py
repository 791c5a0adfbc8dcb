"""`doms bench system` counting a phase's own orders in the app database, and reconciling
them with what the bench counted itself."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from domain.orders import OrderStatus
from doms.bench_counts import (
    OrderCounts,
    app_database,
    database_url,
    discrepancies,
    pending,
    phase_tag,
    reconciliation,
    tagged,
)
from store.models import OrderRow

DELIVERED, SHIPPED, REJECTED = OrderStatus.DELIVERED, OrderStatus.SHIPPED, OrderStatus.REJECTED


def test_a_phase_s_bodies_carry_its_tag_before_their_own_customer_id() -> None:
    bodies = [{"customer_id": "c-1", "lines": []}, {"customer_id": "c-2", "lines": []}]
    tag = phase_tag("ab12cd", "e2e")

    placed = tagged(bodies, tag)

    assert [body["customer_id"] for body in placed] == [f"{tag}c-1", f"{tag}c-2"]
    assert [body["lines"] for body in placed] == [[], []]
    assert bodies[0]["customer_id"] == "c-1"  # the drawn bodies are left as they were


def test_no_phase_s_tag_is_the_start_of_another_s() -> None:
    tags = [phase_tag("run", phase) for phase in ("intake-5", "intake-50", "intake-pinned-5")]

    assert not any(one != other and other.startswith(one) for one in tags for other in tags)


def test_a_tag_refuses_the_character_that_ends_it() -> None:
    with pytest.raises(ValueError):
        phase_tag("run", "intake:5")


def test_counts_tell_accepted_delivered_and_in_flight_orders_apart() -> None:
    counts = OrderCounts.of({DELIVERED: 7, SHIPPED: 2, REJECTED: 1, OrderStatus.FAILED: 1})

    assert (counts.accepted, counts.delivered, counts.not_final) == (10, 7, 2)
    assert counts.final_by_status == {DELIVERED: 7, OrderStatus.FAILED: 1, REJECTED: 1}


def test_orders_answered_201_but_not_in_the_database_are_still_pending() -> None:
    counts = OrderCounts.of({DELIVERED: 8, SHIPPED: 1})

    assert pending(counts, placed=9) == 1  # the one in flight
    assert pending(counts, placed=12) == 4  # and three not there (yet)
    assert pending(OrderCounts.of({DELIVERED: 10}), placed=9) == 0


def test_counts_that_agree_with_the_bench_say_so() -> None:
    counts = OrderCounts.of({DELIVERED: 549})

    assert discrepancies(549, {}, counts) == []
    assert reconciliation(549, {}, counts) == (
        "549 accepted, 549 delivered: as the bench counted (549 placed)"
    )


def test_orders_accepted_for_requests_the_bench_gave_up_on_are_a_mismatch() -> None:
    """The overloaded run that printed "557 of 549 placed orders delivered": eight requests
    timed out at the client, yet the API had accepted them."""
    counts = OrderCounts.of({DELIVERED: 557})

    text = reconciliation(549, {"ReadTimeout": 8}, counts)

    assert text.startswith("557 accepted, 557 delivered; MISMATCH: ")
    assert "8 accepted beyond the 549 answered 201" in text
    assert "ReadTimeout 8" in text


def test_orders_answered_201_missing_from_the_database_are_a_mismatch() -> None:
    notes = discrepancies(10, {}, OrderCounts.of({DELIVERED: 7}))

    assert notes == ["3 of the 10 orders answered 201 are not in the database"]


def test_accepted_orders_not_delivered_are_a_mismatch_by_status() -> None:
    notes = discrepancies(10, {}, OrderCounts.of({DELIVERED: 7, SHIPPED: 2, "failed": 1}))

    assert notes == ["3 accepted not delivered (failed 1, shipped 2)"]


def test_refused_orders_are_no_accepted_order_left_undelivered() -> None:
    assert discrepancies(5, {"409": 2}, OrderCounts.of({DELIVERED: 5, REJECTED: 2})) == []


def test_a_stack_s_database_is_its_url_or_the_sqlite_file_in_its_var_dir(tmp_path: Path) -> None:
    postgres = "postgresql+asyncpg://127.0.0.1/test"

    assert database_url({"DOMS_VAR_DIR": str(tmp_path)}).endswith(str(tmp_path / "doms.db"))
    assert database_url({"DOMS_VAR_DIR": str(tmp_path), "DOMS_DATABASE_URL": postgres}) == postgres


def order_row(order_id: str, customer_id: str, status: str) -> OrderRow:
    return OrderRow(
        order_id=order_id,
        customer_id=customer_id,
        order_type="standard",
        mode="distributed",
        status=status,
        destination_country="US",
        destination_postal_code="10001",
        destination_lat=40.75,
        destination_lon=-73.99,
        speedup=1.0,
        placed_at=datetime.now(UTC),
    )


async def test_the_database_counts_only_the_orders_of_the_phase_asked_for(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'doms.db'}"
    five, fifty = phase_tag("run", "intake-5"), phase_tag("run", "intake-50")
    rows = [
        order_row("1", f"{five}c-1", DELIVERED),
        order_row("2", f"{five}c-2", SHIPPED),
        order_row("3", f"{fifty}c-1", DELIVERED),  # a later rate's
        order_row("4", "c-1", DELIVERED),  # an untagged order, e.g. of an earlier run
    ]
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(OrderRow.metadata.tables["orders"].create)
    async with AsyncSession(engine) as session:
        session.add_all(rows)
        await session.commit()
    await engine.dispose()

    async with app_database(url) as database:
        counts = await database.counts(five)

    assert counts.by_status == {DELIVERED: 1, SHIPPED: 1}
