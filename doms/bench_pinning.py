"""The pinned intake of `doms bench system`: the API on a core of its own, as if it ran on a
machine of its own, and everything else (Temporal, the worker, any other process of the
stack, and the bench that sends the load) on another core.

Every thread of a process is pinned, not the process alone: on Linux a process's affinity
is its threads', each set apart (os.sched_setaffinity takes a thread id). A thread started
later inherits the affinity of the thread that starts it, so a pinned process stays pinned.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import psutil  # type: ignore[import-untyped]  # psutil ships no type information

ALONE = "api"  # the process given a core of its own
# Thread listings repeat until one finds no thread not yet pinned: threads may start while
# the others are being pinned. This many at most, in case a process keeps starting threads.
PIN_PASSES = 3

Plan = dict[str, frozenset[int]]  # process name -> the CPUs its threads may run on


def affinity_plan(names: Sequence[str], usable: set[int]) -> Plan | None:
    """The API alone on the lowest usable CPU, every other process on the next one; None
    when fewer than two CPUs are usable, or there is no API to set apart."""
    if len(usable) < 2 or ALONE not in names:
        return None
    alone, rest = sorted(usable)[:2]
    return {name: frozenset({alone if name == ALONE else rest}) for name in names}


def plan_text(plan: Plan) -> str:
    """E.g. "CPU 0: api; CPU 1: temporal, worker, bench"."""
    by_cpu: dict[int, list[str]] = {}
    for name, cpus in plan.items():
        for cpu in cpus:
            by_cpu.setdefault(cpu, []).append(name)
    return "; ".join(f"CPU {cpu}: {', '.join(names)}" for cpu, names in sorted(by_cpu.items()))


def usable_cpus() -> set[int]:
    """The CPUs this process may run on (a container may offer fewer than the machine has)."""
    return set(os.sched_getaffinity(0))


def pin_threads(process: Any, cpus: frozenset[int]) -> int:
    """Pin every thread of `process` to `cpus`; the number of threads pinned."""
    done: set[int] = set()
    for _ in range(PIN_PASSES):
        if not (todo := {thread.id for thread in process.threads()} - done):
            break
        for thread_id in todo:
            with suppress(ProcessLookupError):  # the thread ended since it was listed
                os.sched_setaffinity(thread_id, cpus)
        done |= todo
    return len(done)


@contextmanager
def pinned(processes: Mapping[str, Any], plan: Plan) -> Iterator[None]:
    """Each process's threads on the plan's CPUs, back on the CPUs each had before on exit."""
    before = {name: frozenset(processes[name].cpu_affinity()) for name in plan}
    try:
        for name, cpus in plan.items():
            pin_threads(processes[name], cpus)
        yield
    finally:
        for name, cpus in before.items():
            with suppress(psutil.NoSuchProcess):  # a stack that broke; it is stopped next
                pin_threads(processes[name], cpus)
