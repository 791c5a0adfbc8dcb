from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from activities.faults import CRASH_EXIT_CODE, CrashPoint, FaultInjector, TransientFault


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


def crash_point_in_a_process(marker: Path) -> int:
    """Reach a crash point in a process of its own; its exit code."""
    code = f"from activities.faults import CrashPoint; CrashPoint(Path({str(marker)!r})).reached()"
    script = f"from pathlib import Path; {code}"
    return subprocess.run([sys.executable, "-c", script], check=False).returncode


def test_a_crash_point_kills_the_process_once_leaving_its_marker(tmp_path: Path) -> None:
    marker = tmp_path / "crashed"

    first, second = crash_point_in_a_process(marker), crash_point_in_a_process(marker)

    assert (first, second) == (CRASH_EXIT_CODE, 0)
    assert marker.exists()


def test_a_crash_point_without_a_marker_does_nothing() -> None:
    CrashPoint(None).reached()  # still here
