"""The stack `doms chaos` breaks: `doms up`'s own Supervisor, run in this process, so that
single children can be SIGKILLed and started again while the rest runs on.

(`doms up` itself stops everything when one child exits, which is right for a person at a
terminal and wrong here: a killed worker must come back alone, as a container would.)
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from doms.local_system import local_system_env
from doms.processes import POLL_SECONDS, ManagedProcess, NotReadyInTime, StartupError
from doms.settings import Settings
from doms.supervisor import Supervisor

WORKER_READY_TIMEOUT_SECONDS = 60.0
# What `doms worker` logs once every task queue is polled (doms/worker.py).
WORKER_SERVING = b" serving "


def settings_of(env: Mapping[str, str]) -> Settings:
    """The Settings a child started with `env` reads: its DOMS_* variables only (validated
    as given, not mixed with this process's own environment)."""
    given = {
        name.removeprefix("DOMS_").lower(): value
        for name, value in env.items()
        if name.startswith("DOMS_")
    }
    return Settings.model_validate(given)


class ChaosStack:
    """Temporal dev server (file-backed), app database, one worker, the relay and the API."""

    def __init__(self, var_dir: Path, speedup: float, **settings: str) -> None:
        var_dir.mkdir(parents=True, exist_ok=True)
        self.env = local_system_env(var_dir, speedup, **settings)
        self.settings = settings_of(self.env)
        self._supervisor = Supervisor(self.settings, self.env)
        self.starts: Counter[str] = Counter({"worker": 1, "relay": 1})  # `doms <command>` runs
        self.temporal_starts = 1
        self.unplanned_exits: list[str] = []
        # The worker seen serving: its log is not read again on each poll (it keeps growing).
        self._serving_worker: ManagedProcess | None = None

    @property
    def api_url(self) -> str:
        return self.settings.api_url

    @property
    def var_dir(self) -> Path:
        return self.settings.var_dir

    @property
    def operator_key(self) -> str:
        """The local operator key the supervisor made as the stack started."""
        keys = self._supervisor.keys
        if keys is None:
            raise RuntimeError("the stack has not started: no API keys yet")
        return keys.operator

    async def start(self) -> None:
        await self._supervisor.start_all()
        await self.wait_worker_serving()

    def stop(self) -> None:
        self._supervisor.stop_all()

    def _child(self, name: str) -> ManagedProcess:
        for child in self._supervisor.children:
            if child.name == name:
                return child
        raise StartupError(f"the stack has no {name}")

    @property
    def worker(self) -> ManagedProcess:
        return self._child("doms worker")

    @property
    def temporal(self) -> ManagedProcess:
        return self._child("the Temporal dev server")

    @property
    def api(self) -> ManagedProcess:
        return self._child("doms api")

    def kill(self, command: str) -> None:
        """SIGKILL `doms <command>` (the worker, the relay) and start a new one at once, as a
        supervisor would. A killed relay's leased rows wait out their lease, then the new
        one starts them (a start is idempotent)."""
        child = self._child(f"doms {command}")
        child.kill()
        self._restart(command, child)

    def restart_if_exited(self, command: str) -> bool:
        """A `doms <command>` that died on its own (not by our hand) is noted and started
        again."""
        child = self._child(f"doms {command}")
        if child.returncode is None:
            return False
        self.unplanned_exits.append(f"{command} exited with {child.returncode}")
        self._restart(command, child)
        return True

    def _restart(self, command: str, dead: ManagedProcess) -> None:
        self._supervisor.children.remove(dead)
        self.starts[command] += 1
        self._supervisor.start_doms(command, log_name=f"{command}-{self.starts[command]}")

    async def kill_and_restart_temporal(self) -> None:
        """SIGKILL the dev server and start it again on the same database file."""
        temporal = self.temporal
        temporal.kill()
        self._supervisor.children.remove(temporal)
        # start_dev_server writes temporal.log afresh: keep the killed one's.
        log = self.var_dir / "temporal.log"
        log.rename(self.var_dir / f"temporal-{self.temporal_starts}.log")
        self.temporal_starts += 1
        restarted = await self._supervisor.start_temporal()
        # Children first: the supervisor stops them in reverse order of start.
        self._supervisor.children.remove(restarted)
        self._supervisor.children.insert(0, restarted)

    def worker_serving(self) -> bool:
        """The current worker polls its task queues (it logged so)."""
        worker = self.worker
        if worker is self._serving_worker:
            return True
        log = worker.log_path
        if log.exists() and WORKER_SERVING in log.read_bytes():
            self._serving_worker = worker
            return True
        return False

    async def wait_worker_serving(self, within: float = WORKER_READY_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + within
        while not self.worker_serving():
            self.worker.raise_if_exited()
            if time.monotonic() > deadline:
                raise NotReadyInTime(f"the worker did not serve within {within:.0f} s")
            await asyncio.sleep(POLL_SECONDS)  # a polling interval, not a synchronisation
