"""When a shopper looks at its orders again: at the promise, then backing off, bounded."""

from __future__ import annotations

import pytest

from loadtest.surveys import (
    MIN_DELAY_SECONDS,
    NO_PROMISE_SECONDS,
    SurveyQueue,
    promise_span_seconds,
)


def test_the_promise_span_is_the_servers_own_difference() -> None:
    span = promise_span_seconds("2025-01-01T10:00:00+00:00", "2025-01-01T10:00:02.500000+00:00")

    assert span == pytest.approx(2.5)


def test_an_order_without_a_promise_has_no_span() -> None:
    assert promise_span_seconds("2025-01-01T10:00:00+00:00", None) is None


def test_an_order_is_first_looked_at_when_it_was_promised() -> None:
    queue = SurveyQueue()
    queue.track("o-1", now=100.0, span_seconds=10.0)

    assert queue.due(now=109.9, limit=5) == []
    [pending] = queue.due(now=110.0, limit=5)
    assert pending.order_id == "o-1" and len(queue) == 0


def test_an_order_without_a_promise_is_looked_at_after_a_default_wait() -> None:
    queue = SurveyQueue()
    queue.track("o-1", now=0.0, span_seconds=None)

    assert queue.due(now=NO_PROMISE_SECONDS - 0.01, limit=1) == []
    assert [p.order_id for p in queue.due(now=NO_PROMISE_SECONDS, limit=1)] == ["o-1"]


def test_orders_come_out_earliest_first_and_at_most_limit_at_a_time() -> None:
    queue = SurveyQueue()
    for order_id, span in (("late", 30.0), ("soon", 5.0), ("middle", 10.0)):
        queue.track(order_id, now=0.0, span_seconds=span)

    first = queue.due(now=100.0, limit=2)
    rest = queue.due(now=100.0, limit=2)

    assert [p.order_id for p in first] == ["soon", "middle"]
    assert [p.order_id for p in rest] == ["late"]


def test_a_full_memory_forgets_new_orders() -> None:
    queue = SurveyQueue(capacity=2)

    tracked = [queue.track(f"o-{n}", now=0.0, span_seconds=1.0) for n in range(3)]

    assert tracked == [True, True, False] and len(queue) == 2


def test_an_undelivered_order_is_looked_at_again_backing_off_then_given_up() -> None:
    queue = SurveyQueue(max_checks=4)
    queue.track("o-1", now=0.0, span_seconds=8.0)
    now, looks, gaps = 8.0, 0, []

    while pending := queue.due(now=now, limit=1):
        looks += 1
        if not queue.retry(pending[0], now):
            break
        next_due = queue.next_due()
        assert next_due is not None
        gap = next_due - now
        gaps.append(gap)
        now += gap

    assert looks == 4  # bounded
    assert gaps == [2.0, 4.0, 8.0]  # a quarter of the promise, doubling
    assert len(queue) == 0 and queue.next_due() is None


def test_never_looks_more_often_than_the_minimum_delay() -> None:
    queue = SurveyQueue()
    queue.track("o-1", now=0.0, span_seconds=0.01)

    assert queue.due(now=MIN_DELAY_SECONDS - 0.001, limit=1) == []
    [pending] = queue.due(now=MIN_DELAY_SECONDS, limit=1)
    queue.retry(pending, now=MIN_DELAY_SECONDS)
    assert queue.due(now=2 * MIN_DELAY_SECONDS - 0.001, limit=1) == []


def test_a_queue_needs_room_and_looks() -> None:
    with pytest.raises(ValueError):
        SurveyQueue(capacity=0)
    with pytest.raises(ValueError):
        SurveyQueue(max_checks=0)
