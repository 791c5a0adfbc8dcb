"""The whole system as a user runs it: `doms up` in a subprocess, on free ports, over HTTP."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from postgres import BACKENDS, PostgresServer
from problem_details import problem

from domain.orders import FINAL_STATUSES
from doms.local_keys import LocalKeys, read_local_keys
from doms.local_system import NO_RATE_LIMIT, local_system_env
from doms.settings import Settings

T = TypeVar("T")
START_TIMEOUT_SECONDS = 90.0
FAST_SPEEDUP = 36_000  # an order lives a few real seconds
# A module mark: its tests run on a `fast_system` (conftest.py) with the app database on SQLite,
# then again on PostgreSQL. Every test of the module must use `fast_system`.
on_sqlite_and_postgres = pytest.mark.parametrize(
    "fast_system", BACKENDS, indirect=True, scope="module"
)


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

    @property
    def database_url(self) -> str:
        """The app database this `doms up` was given, or its default."""
        given = Settings(var_dir=self.var_dir, database_url=self.env.get("DOMS_DATABASE_URL"))
        return given.app_database_url

    @property
    def keys(self) -> LocalKeys:
        """The API keys `doms up` made and wrote to its var dir."""
        keys = read_local_keys(self.var_dir)
        assert keys is not None, f"doms up wrote no API keys in {self.var_dir}"
        return keys

    def client(self, key: str | None = None, timeout: float = 15) -> httpx.AsyncClient:
        """An HTTP client of the API sending `key`, by default the operator key of `doms up`;
        with key "", none."""
        token = key if key is not None else self.keys.operator
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.api_url, timeout=timeout, headers=headers)

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


def system_env(var_dir: Path, speedup: float, **settings: str) -> dict[str, str]:
    """No rate limit unless `settings` set one: the tests are one client pushing many orders."""
    return local_system_env(var_dir, speedup, **(NO_RATE_LIMIT | settings))


@asynccontextmanager
async def app_database(backend: str, server: PostgresServer) -> AsyncIterator[dict[str, str]]:
    """The DOMS_* settings of an app database on `backend` ("sqlite" or "postgres").

    SQLite is the default, a file in the var dir; on PostgreSQL it is a throwaway database,
    dropped on exit, that `doms up` migrates and seeds as it starts.
    """
    if backend == "sqlite":
        yield {}
    else:
        async with server.throwaway_database() as url:
            yield {"DOMS_DATABASE_URL": url}


@asynccontextmanager
async def running_system(
    var_dir: Path, speedup: float, **extra_env: str
) -> AsyncIterator[RunningSystem]:
    """A started `doms up` (extra DOMS_* settings in `extra_env`), stopped cleanly on exit."""
    env = system_env(var_dir, speedup)
    env.update(extra_env)
    system = RunningSystem(var_dir, env)
    await system.start()
    try:
        yield system
    finally:
        assert system.stop() == 0, system.log_tail()


def fields_named(response: httpx.Response) -> list[str]:
    """The fields a 422 problem blames."""
    return [error["field"] for error in problem(response, 422)["errors"]]


async def stock_of(http: httpx.AsyncClient, fulfilment_centre: str, sku: str) -> dict[str, Any]:
    """The stock row of one SKU at one centre; on hand = available + reserved + shipped."""
    response = await http.get(
        "/inventory", params={"fulfilment_centre": fulfilment_centre, "sku": sku}
    )
    assert response.status_code == 200, response.text
    [row] = response.json()["items"]
    assert row["on_hand"] == row["available"] + row["reserved"] + row["shipped"], row
    return dict(row)


async def order_in_status(
    http: httpx.AsyncClient, order_id: str, status: str, *, within: float = 30
) -> dict[str, Any]:
    """The order, once GET /orders/{order_id} shows `status`."""

    async def probe() -> dict[str, Any] | None:
        order: dict[str, Any] = (await http.get(f"/orders/{order_id}")).json()
        return order if order["status"] == status else None

    return await eventually(probe, within=within, what=f"order {order_id} to be {status}")


async def every_order_final(system: RunningSystem, *, within: float = 90) -> None:
    """Return once no order on `system` is still on its way (or waiting for stock)."""
    final = {str(status) for status in FINAL_STATUSES}

    async with system.client() as http:

        async def settled() -> bool | None:
            response = await http.get("/reports/performance")
            assert response.status_code == 200, response.text
            by_status: dict[str, int] = response.json()["total"]["by_status"]
            return True if all(s in final for s, n in by_status.items() if n) else None

        await eventually(settled, within=within, what="every order on the system to be final")
