"""The stacks `doms bench system` measures: a fresh `doms up` on a var dir and ports of its
own (doms/experiment.py's `System`), its processes found by command line, their CPU time and
memory (psutil), and a network with stock enough for every order of the run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]  # psutil ships no type information

from doms.experiment import START_ATTEMPTS, CellError, System
from doms.local_system import NO_RATE_LIMIT, local_system_env
from doms.network_file import load_network_spec

ROLES = ("temporal", "worker", "relay", "api")  # the long-running children of `doms up`
BENCH = "bench"  # this process: the load generator, and the baseline's worker
MB = 1_000_000  # the targets are in MB; 10^6 bytes is the stricter reading
_STOCK_LINE = re.compile(r"^units_per_sku\s*=\s*\d+\s*$", re.MULTILINE)


class StackError(Exception):
    """The stack could not be started or measured; the message says what and where."""


@contextmanager
def running_stack(
    var_dir: Path, speedup: float, say: Callable[[str], None], **settings: str
) -> Iterator[System]:
    """A ready `doms up` with these DOMS_* (and OTEL_*) settings (a second try on fresh
    ports if the first cannot start: a port probed free may be taken before `doms up` binds
    it); stopped on exit. OTEL_* settings of this process are not passed on: the bench
    decides which stack is traced, and where its spans go."""
    failure = "not started"
    for attempt in range(1, START_ATTEMPTS + 1):
        run_dir = var_dir / f"start-{attempt}"
        try:
            env = stack_env(run_dir, speedup, settings)
            system = System(run_dir, env)
        except RuntimeError as error:  # no free port
            raise StackError(str(error)) from error
        limit = float(env["DOMS_RATE_LIMIT_PER_SECOND"])
        rate = f"rate limit {limit:g}/s per client" if limit else "no rate limit"
        say(f"starting doms up (speedup {speedup:g}, {rate}) in {run_dir}")
        try:
            system.start()
        except CellError as error:
            system.stop()
            failure = str(error)
            continue
        try:
            yield system
        finally:
            code = system.stop()
            if code != 0:
                say(f"warning: doms up exited with {code} when stopped; log: {system.log}")
        return
    raise StackError(failure)


def stack_env(run_dir: Path, speedup: float, settings: Mapping[str, str]) -> dict[str, str]:
    """Fresh ports, no rate limit (the bench is one client at full speed), then `settings`."""
    return untraced(local_system_env(run_dir, speedup)) | NO_RATE_LIMIT | dict(settings)


def untraced(env: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in env.items() if not name.startswith("OTEL_")}


def role_of(cmdline: Sequence[str]) -> str | None:
    """Which child of `doms up` a process is: doms/supervisor.py starts `python -m doms
    worker` and `... api`, doms/temporal_server.py `temporal server start-dev ...`."""
    if "server" in cmdline and "start-dev" in cmdline:
        return "temporal"
    for index in range(len(cmdline) - 2):
        if cmdline[index : index + 2] == ["-m", "doms"] and cmdline[index + 2] in ROLES:
            return cmdline[index + 2]
    return None


def stack_processes(system: System) -> dict[str, Any]:
    """The temporal, worker and api processes of a running `doms up`, and this one."""
    assert system.process is not None, "the stack is started"
    found: dict[str, Any] = {}
    for child in psutil.Process(system.process.pid).children(recursive=True):
        try:
            role = role_of(child.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied):  # a short-lived helper
            continue
        if role is not None:
            found[role] = child
    if missing := [role for role in ROLES if role not in found]:
        raise StackError(f"doms up has no {', '.join(missing)} process; log: {system.log}")
    return {role: found[role] for role in ROLES} | {BENCH: psutil.Process()}


def cpu_seconds(process: Any) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def rss_mb(process: Any) -> float:
    return float(process.memory_info().rss) / MB


def cores_used(cpu_before: float, cpu_after: float, wall_seconds: float) -> float:
    """CPU seconds spent per second of wall time: 1.0 is one core busy throughout."""
    return (cpu_after - cpu_before) / wall_seconds if wall_seconds > 0 else 0.0


@dataclass(frozen=True)
class CpuUse:
    """The CPU seconds each process spent over `wall_seconds`."""

    seconds: dict[str, float]
    wall_seconds: float

    def cores(self) -> dict[str, float]:
        return {
            name: round(cores_used(0.0, spent, self.wall_seconds), 2)
            for name, spent in self.seconds.items()
        }

    def total_cores(self, names: Collection[str]) -> float:
        spent = sum(self.seconds.get(name, 0.0) for name in names)
        return round(cores_used(0.0, spent, self.wall_seconds), 2)

    def ms_per_order(self, orders: int) -> dict[str, float]:
        """Each process's CPU milliseconds per order; none when there were no orders."""
        if orders <= 0:
            return {}
        return {name: round(spent * 1000 / orders, 2) for name, spent in self.seconds.items()}


@dataclass(frozen=True)
class PhaseCpu:
    """What a phase cost each process. Unlike orders/s, CPU per order hardly moves when
    other work shares the machine, so it shows where the time goes."""

    cores: dict[str, float]  # while the phase's load ran
    stack_cores: float  # the sum of the stack's processes' cores
    ms_per_order: dict[str, float]  # over the whole phase, per completed order
    api_ms_per_accepted_order: float | None  # None when the API took no part

    @classmethod
    def of(
        cls, loaded: CpuUse, whole: CpuUse, completed: int, accepted: int, stack: Collection[str]
    ) -> PhaseCpu:
        """`loaded`: while the load ran; `whole`: until its orders were final (an intake
        rate's backlog drains after its last request); `stack`: the processes that count
        as the stack's, not the load generator's."""
        api = whole.ms_per_order(accepted).get("api")
        return cls(loaded.cores(), loaded.total_cores(stack), whole.ms_per_order(completed), api)


def stack_names(processes: Collection[str]) -> list[str]:
    """Every process but the bench's own: the load generator is no part of the stack."""
    return [name for name in processes if name != BENCH]


class CpuMeter:
    """The CPU time each process spent from the meter's creation to each `read()`."""

    def __init__(self, processes: Mapping[str, Any]) -> None:
        self._processes = dict(processes)
        self._started = time.monotonic()
        self._before = {name: cpu_seconds(process) for name, process in processes.items()}

    def read(self) -> CpuUse:
        wall = time.monotonic() - self._started
        try:
            spent = {
                name: cpu_seconds(process) - self._before[name]
                for name, process in self._processes.items()
            }
        except psutil.NoSuchProcess as error:
            raise StackError(f"a process of the stack exited: pid {error.pid}") from error
        return CpuUse(spent, wall)


def ample_stock(network_text: str, units: int) -> str:
    """The network description with every regional centre stocking `units` of each SKU it
    carries (the central one holds their sum), so no benchmark order lacks stock."""
    scaled, count = _STOCK_LINE.subn(f"units_per_sku = {units}", network_text)
    if count != 1:
        raise StackError(f"the network file has {count} `units_per_sku = N` lines, not 1")
    return scaled


def bench_network_file(path: Path, base: Path | None, units: int) -> Path:
    """Write the `base` network (None: the packaged default) with ample stock to `path`."""
    if base is None:
        text = resources.files("doms").joinpath("networks", "default.toml").read_text("utf-8")
    else:
        text = base.read_text("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ample_stock(text, units), "utf-8")
    load_network_spec(path)  # checked whole now rather than by a failing `doms up`
    return path
