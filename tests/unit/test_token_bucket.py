"""The rate limit's token buckets, on a clock the test moves (no sleeping)."""

from __future__ import annotations

import pytest

from api.token_bucket import TokenBuckets, retry_after_seconds


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_a_burst_is_granted_then_the_next_request_waits_one_token(clock: FakeClock) -> None:
    buckets = TokenBuckets(rate=2, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # one token at 2/s


def test_tokens_come_back_at_the_rate(clock: FakeClock) -> None:
    buckets = TokenBuckets(rate=4, burst=2, clock=clock)
    buckets.take("a"), buckets.take("a")
    clock.now += 0.25  # one token back
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.25)
    clock.now += 0.1
    assert buckets.take("a") == pytest.approx(0.15)  # refused requests take nothing


def test_a_bucket_never_holds_more_than_the_burst(clock: FakeClock) -> None:
    buckets = TokenBuckets(rate=10, burst=2, clock=clock)
    clock.now += 3600
    assert [buckets.take("a") > 0 for _ in range(3)] == [False, False, True]


def test_keys_have_buckets_of_their_own(clock: FakeClock) -> None:
    buckets = TokenBuckets(rate=1, burst=1, clock=clock)
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    assert buckets.take("b") == 0.0


def test_idle_buckets_are_dropped_once_full_again(clock: FakeClock) -> None:
    buckets = TokenBuckets(rate=10, burst=5, clock=clock)  # full again after 0.5 s
    for key in ("a", "b", "c"):
        buckets.take(key)
    assert len(buckets) == 3
    clock.now += 0.5
    buckets.take("d")
    assert len(buckets) == 1


def test_memory_is_bounded_whatever_keys_arrive(clock: FakeClock) -> None:
    buckets = TokenBuckets(rate=1, burst=10, clock=clock, max_keys=100)
    for number in range(1000):
        buckets.take(f"key-{number}")
    assert len(buckets) == 100
    # The most recently used keys were kept: key-999 has spent a token.
    for _ in range(9):
        assert buckets.take("key-999") == 0.0
    assert buckets.take("key-999") > 0


def test_a_busy_bucket_survives_eviction_of_the_idle(clock: FakeClock) -> None:
    buckets = TokenBuckets(rate=1, burst=2, clock=clock, max_keys=2)
    buckets.take("busy"), buckets.take("busy")
    buckets.take("other")
    buckets.take("busy")  # most recently used again; "other" is now the oldest
    buckets.take("third")  # over max_keys: "other" goes, "busy" stays empty
    assert buckets.take("busy") > 0


@pytest.mark.parametrize(
    ("rate", "burst", "max_keys"), [(0, 1, 1), (-1, 1, 1), (1, 0, 1), (1, 1, 0)]
)
def test_a_bucket_needs_a_positive_rate_burst_and_bound(
    rate: float, burst: int, max_keys: int
) -> None:
    with pytest.raises(ValueError):
        TokenBuckets(rate=rate, burst=burst, max_keys=max_keys)


@pytest.mark.parametrize(("wait", "header"), [(0.001, 1), (0.5, 1), (1.0, 1), (1.01, 2), (7.2, 8)])
def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one(wait: float, header: int) -> None:
    assert retry_after_seconds(wait) == header
