"""`doms up`: start Temporal, the database, the worker, the relay and the API; stop them all on
Ctrl-C."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from doms.local_keys import LocalKeys, ensure_local_keys, keys_file
from doms.processes import (
    STOP_GRACE_SECONDS,
    ManagedProcess,
    ProcessExited,
    StartupError,
    wait_for,
)
from doms.settings import Settings
from doms.temporal_server import connect_when_ready, start_dev_server, wait_until_ready

API_READY_TIMEOUT_SECONDS = 60.0
EXIT_PORT_IN_USE = 2
_WATCH_SECONDS = 0.5
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class Port:
    host: str
    number: int
    purpose: str
    setting: str


def run_up(settings: Settings) -> int:
    problem = port_problem(ports_needed(settings))
    if problem is not None:
        print(f"doms up: {problem}", file=sys.stderr)
        return EXIT_PORT_IN_USE
    return asyncio.run(_supervise(Supervisor(settings)))


def ports_needed(settings: Settings) -> list[Port]:
    ports = [Port(settings.api_host, settings.api_port, "API", "DOMS_API_PORT")]
    if settings.temporal_embedded:
        host = settings.temporal_host
        ports.append(Port(host, settings.temporal_port, "Temporal", "DOMS_TEMPORAL_ADDRESS"))
        ui_host, ui_port = settings.temporal_ui_host, settings.temporal_ui_port
        ports.append(Port(ui_host, ui_port, "Temporal UI", "DOMS_TEMPORAL_UI_PORT"))
    for number, purpose, setting in (
        (settings.metrics_port, "worker metrics", "DOMS_METRICS_PORT"),
        (settings.temporal_metrics_port, "Temporal SDK metrics", "DOMS_TEMPORAL_METRICS_PORT"),
    ):
        if number:  # 0 turns it off
            ports.append(Port(settings.metrics_host, number, purpose, setting))
    return ports


def port_problem(ports: list[Port]) -> str | None:
    seen: dict[int, Port] = {}
    for port in ports:
        if port.number in seen:
            first = seen[port.number]
            return f"port {port.number} is set for both {first.purpose} and {port.purpose}."
        seen[port.number] = port
        problem = _cannot_listen_on(port)
        if problem is not None:
            return problem
    return None


def _cannot_listen_on(port: Port) -> str | None:
    try:
        socket.create_server((port.host, port.number)).close()
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            return (
                f"port {port.number} on {port.host} is already in use ({port.purpose}). "
                f"Stop what uses it or set {port.setting}."
            )
        reason = os.strerror(error.errno) if error.errno else str(error)
        return f"cannot listen on {port.host}:{port.number} ({port.purpose}): {reason}."
    return None


async def _supervise(supervisor: Supervisor) -> int:
    _cancel_on_stop_signals()
    try:
        return await supervisor.run()
    except asyncio.CancelledError:
        _say("stopping")
        return 0
    except StartupError as error:
        print(f"doms up: {error}", file=sys.stderr)
        return 1
    finally:
        supervisor.stop_all()


def _cancel_on_stop_signals() -> None:
    # Children have process groups of their own, so a Ctrl-C reaches only us and we stop
    # them in order. stop_all() blocks, so a second signal cannot cut the stop short.
    task = asyncio.current_task()
    assert task is not None, "called from inside asyncio.run"
    loop = asyncio.get_running_loop()
    for signum in _STOP_SIGNALS:
        loop.add_signal_handler(signum, task.cancel)


class Supervisor:
    """Starts and stops the children of one local system.

    `env` is the environment of the DOMS children (default: this process's): `doms chaos`
    runs a system of its own, on its own ports, from a process with other settings.
    """

    def __init__(self, settings: Settings, env: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.env = dict(os.environ if env is None else env)
        self.started_at = time.monotonic()
        self.children: list[ManagedProcess] = []
        self.keys: LocalKeys | None = None

    async def run(self) -> int:
        await self.start_all()
        self._print_banner()
        exited = await self._first_child_to_exit()
        print(f"doms up: {ProcessExited(exited)}\ndoms up: stopping the rest", file=sys.stderr)
        return 1

    async def start_all(self) -> None:
        self.settings.var_dir.mkdir(parents=True, exist_ok=True)
        if self.settings.temporal_embedded:
            await self.start_temporal()
        else:
            _say(f"using Temporal at {self.settings.temporal_address}")
            await connect_when_ready(self.settings)
        _say("migrating the database")
        await self._run_to_completion("migrate")
        _say("seeding the fulfilment network")
        await self._run_to_completion("seed")
        _say("making the local API keys")
        self.keys = await ensure_local_keys(self.settings.app_database_url, self.settings.var_dir)
        _say("starting the worker")
        self.start_doms("worker")
        _say("starting the outbox relay")
        self.start_doms("relay")
        _say(f"starting the API on {self.settings.api_url}")
        self.start_doms("api")
        await self._wait_for_api()

    def stop_all(self) -> None:
        for child in reversed(self.children):
            if child.returncode is None:
                _say(f"stopping {child.name} (pid {child.pid})")
                if child.stop() == -signal.SIGKILL:
                    _say(f"{child.name} ignored SIGTERM for {STOP_GRACE_SECONDS:.0f} s: killed")
        self.children.clear()
        _say("stopped")

    async def start_temporal(self) -> ManagedProcess:
        settings = self.settings
        _say(f"starting the Temporal dev server on {settings.temporal_address}")
        temporal = start_dev_server(settings)
        self.children.append(temporal)
        await wait_until_ready(temporal, settings)
        _say(f"Temporal is ready ({self._elapsed():.1f} s)")
        return temporal

    async def _run_to_completion(self, command: str) -> None:
        process = self.start_doms(command)
        if await process.wait() != 0:
            raise ProcessExited(process)
        self.children.remove(process)
        print(process.log_tail(), flush=True)

    def start_doms(self, command: str, log_name: str | None = None) -> ManagedProcess:
        """Start `doms <command>` as a child, its output in `<log_name or command>.log`."""
        log_path = self.settings.var_dir / f"{log_name or command}.log"
        # Unbuffered, so the log tail shown when a child dies holds its last words.
        env = {**self.env, "PYTHONUNBUFFERED": "1"}
        process = ManagedProcess.start(
            f"doms {command}", [sys.executable, "-m", "doms", command], log_path, env
        )
        self.children.append(process)
        return process

    async def _wait_for_api(self) -> None:
        url = f"{self.settings.api_url}/readyz"
        _say(f"waiting for {url}")
        async with httpx.AsyncClient(timeout=2.0) as http:

            async def ready_response() -> httpx.Response | None:
                try:
                    response = await http.get(url)
                except httpx.TransportError:
                    return None
                return response if response.status_code == httpx.codes.OK else None

            await wait_for(
                ready_response,
                what=f"the API ({url})",
                give_up_after=API_READY_TIMEOUT_SECONDS,
                watching=self.children,
            )
        _say(f"the API is ready ({self._elapsed():.1f} s)")

    async def _first_child_to_exit(self) -> ManagedProcess:
        while True:
            for child in self.children:
                if child.returncode is not None:
                    return child
            await asyncio.sleep(_WATCH_SECONDS)

    def _elapsed(self) -> float:
        return time.monotonic() - self.started_at

    def _print_banner(self) -> None:
        settings = self.settings
        simulated_hour = 3600 / settings.speedup
        temporal = (
            f"  Temporal UI {settings.temporal_ui_url}"
            if settings.temporal_embedded
            else f"  Temporal    {settings.temporal_address} (not started by doms up)"
        )
        print(
            f"DOMS is up (mode {settings.mode}, 1 simulated hour = {simulated_hour:.1f} s)"
            f" in {self._elapsed():.1f} s\n"
            f"  API         {settings.api_url}\n"
            f"  API docs    {settings.api_url}/docs\n"
            f"{temporal}\n"
            f"{_metrics_lines(settings)}"
            f"{_key_lines(settings, self.keys)}"
            f"  logs        {settings.var_dir}/\n"
            "Ctrl-C stops everything.",
            flush=True,
        )


def _metrics_lines(settings: Settings) -> str:
    lines = f"  metrics     {settings.api_url}/metrics (API)\n"
    for port, what in (
        (settings.metrics_port, "worker"),
        (settings.temporal_metrics_port, "Temporal SDK"),
    ):
        if port:
            lines += f"              http://{settings.metrics_host}:{port}/metrics ({what})\n"
    return lines


def _key_lines(settings: Settings, keys: LocalKeys | None) -> str:
    if keys is None:
        return ""
    return (
        f"  API keys    operator  {keys.operator}\n"
        f"              customer  {keys.customer} (customer {keys.customer_id})\n"
        f"              in {keys_file(settings.var_dir)} (owner only);"
        " send one as `Authorization: Bearer <key>`\n"
    )


def _say(message: str) -> None:
    print(f"doms up: {message}", flush=True)
