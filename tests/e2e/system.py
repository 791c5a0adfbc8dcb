"""The whole system as a user runs it: `doms up` in a subprocess, on free ports, over HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

T = TypeVar("T")
START_TIMEOUT_SECONDS = 90.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def eventually(probe: Callable[[], Awaitable[T | None]], *, within: float, what: str) -> T:
    """Await a condition: `probe` returns a value once it holds. Fails with `what` on timeout."""
    deadline = time.monotonic() + within
    while (value := await probe()) is None:
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(0.1)  # polling interval, not a synchronisation
    return value


@dataclass
class RunningSystem:
    """One `doms up` process and the addresses it serves."""

    var_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[str] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.env['DOMS_API_PORT']}"

    @property
    def temporal_address(self) -> str:
        return self.env["DOMS_TEMPORAL_ADDRESS"]

    async def start(self) -> float:
        """Start `doms up` and return the seconds until /readyz answered."""
        started = time.monotonic()
        log = (self.var_dir / "up.log").open("a")
        self.process = subprocess.Popen(  # noqa: ASYNC220 - it runs on; we never wait on it here
            [sys.executable, "-m", "doms", "up"], env=self.env, stdout=log, stderr=log, text=True
        )
        async with httpx.AsyncClient(base_url=self.api_url, timeout=2) as http:
            await eventually(
                lambda: self._ready(http),
                within=START_TIMEOUT_SECONDS,
                what=f"doms up to become ready (log: {self.var_dir / 'up.log'})",
            )
        return time.monotonic() - started

    async def _ready(self, http: httpx.AsyncClient) -> bool | None:
        assert self.process is not None
        if self.process.poll() is not None:
            pytest.fail(f"doms up exited with {self.process.returncode}: {self.log_tail()}")
        try:
            response = await http.get("/readyz")
        except httpx.TransportError:
            return None
        return True if response.status_code == 200 else None

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def log_tail(self) -> str:
        return (self.var_dir / "up.log").read_text()[-3000:]


def system_env(var_dir: Path, speedup: float) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("DOMS_")}
    env.update(
        DOMS_VAR_DIR=str(var_dir),
        DOMS_API_PORT=str(free_port()),
        DOMS_TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",
        DOMS_TEMPORAL_UI_PORT=str(free_port()),
        DOMS_SPEEDUP=str(speedup),
    )
    return env
