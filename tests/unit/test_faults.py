from __future__ import annotations

import random

import pytest

from activities.faults import FaultInjector, TransientFault


def failures_in(injector: FaultInjector, calls: int) -> int:
    failed = 0
    for _ in range(calls):
        try:
            injector.maybe_fail("the WMS")
        except TransientFault:
            failed += 1
    return failed


def test_no_faults_are_injected_by_default() -> None:
    assert failures_in(FaultInjector(0.0), 1000) == 0


def test_every_call_fails_at_rate_one() -> None:
    assert failures_in(FaultInjector(1.0), 50) == 50


def test_the_rate_is_the_share_of_calls_that_fail() -> None:
    failed = failures_in(FaultInjector(0.3, random.Random(7)), 10_000)
    assert 2800 < failed < 3200


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_a_rate_outside_zero_to_one_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match=r"0\.\.1"):
        FaultInjector(rate)
