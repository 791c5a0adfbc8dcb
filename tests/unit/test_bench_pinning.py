"""The pinned intake's affinity: which process goes on which core, and every thread of each
pinned, then put back."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import psutil  # type: ignore[import-untyped]  # psutil ships no type information
import pytest

from doms.bench_pinning import affinity_plan, pin_threads, pinned, plan_text, usable_cpus

STACK = ["temporal", "worker", "api", "bench"]


def test_the_api_gets_a_cpu_of_its_own_and_everything_else_shares_another() -> None:
    plan = affinity_plan(STACK, {0, 1})

    assert plan is not None
    assert plan["api"] == {0}
    assert {name: cpus for name, cpus in plan.items() if name != "api"} == {
        name: {1} for name in STACK if name != "api"
    }


def test_the_plan_uses_only_the_cpus_this_process_may_run_on() -> None:
    plan = affinity_plan(STACK, {3, 5, 7})

    assert plan is not None
    assert plan["api"] == {3}
    assert {cpu for name, cpus in plan.items() if name != "api" for cpu in cpus} == {5}


@pytest.mark.parametrize(("names", "usable"), [(STACK, {0}), (["temporal", "worker"], {0, 1})])
def test_there_is_no_plan_without_two_cpus_or_without_an_api(
    names: list[str], usable: set[int]
) -> None:
    assert affinity_plan(names, usable) is None


def test_the_plan_reads_as_the_processes_on_each_cpu() -> None:
    plan = affinity_plan(STACK, {0, 1})

    assert plan is not None
    assert plan_text(plan) == "CPU 0: api; CPU 1: temporal, worker, bench"


@pytest.fixture
def waiting_thread() -> Iterator[threading.Thread]:
    """A thread of this process besides the main one, alive until the test ends."""
    done = threading.Event()
    thread = threading.Thread(target=done.wait, daemon=True)
    thread.start()
    yield thread
    done.set()
    thread.join()


needs_two_cpus = pytest.mark.skipif(len(usable_cpus()) < 2, reason="pinning needs two CPUs")


@needs_two_cpus
def test_every_thread_is_pinned_not_only_the_process(waiting_thread: threading.Thread) -> None:
    before = usable_cpus()
    one = frozenset({min(before)})
    this = psutil.Process()
    try:
        pinned_count = pin_threads(this, one)

        assert pinned_count == len(this.threads()) >= 2
        assert waiting_thread.native_id is not None
        assert os.sched_getaffinity(waiting_thread.native_id) == one
    finally:
        pin_threads(this, frozenset(before))


@needs_two_cpus
def test_pinned_puts_every_thread_back_on_the_cpus_it_had(
    waiting_thread: threading.Thread,
) -> None:
    before = usable_cpus()
    plan = affinity_plan(["api"], before)
    assert plan is not None

    with pinned({"api": psutil.Process()}, plan):
        assert waiting_thread.native_id is not None
        assert os.sched_getaffinity(waiting_thread.native_id) == plan["api"]

    assert os.sched_getaffinity(waiting_thread.native_id) == before
    assert usable_cpus() == before
