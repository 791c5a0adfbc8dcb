"""Child processes of `doms up`: each in its own process group, its output in a log file."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

STOP_GRACE_SECONDS = 10.0
POLL_SECONDS = 0.1
TAIL_LINES = 30
_TAIL_BYTES = 32_768
_LONGEST_RETRY_DELAY_SECONDS = 0.5


class StartupError(Exception):
    """Something `doms up` cannot start; the message is written for the person who ran it."""


class ProcessExited(StartupError):
    def __init__(self, process: ManagedProcess) -> None:
        self.process = process
        super().__init__(
            f"{process.name} {_describe_exit(process.returncode)}; "
            f"last lines of {process.log_path}:\n{process.log_tail()}"
        )


class NotReadyInTime(StartupError):
    pass


class ManagedProcess:
    """A started child process; `stop()` ends it and everything in its process group."""

    def __init__(self, name: str, popen: subprocess.Popen[bytes], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._popen = popen

    @classmethod
    def start(
        cls,
        name: str,
        command: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
    ) -> ManagedProcess:
        # A process group of its own: a Ctrl-C in the terminal reaches only the supervisor,
        # which then stops the children in order instead of them all dying at once.
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                process_group=0,
            )
        return cls(name, popen, log_path)

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    def raise_if_exited(self) -> None:
        if self.returncode is not None:
            raise ProcessExited(self)

    async def wait(self) -> int:
        # Popen has no awaitable exit; polling leaves stop() free to reap it synchronously.
        while (code := self.returncode) is None:  # noqa: ASYNC110
            await asyncio.sleep(POLL_SECONDS)
        return code

    def stop(self, grace_seconds: float = STOP_GRACE_SECONDS) -> int:
        """SIGTERM its process group, SIGKILL it after `grace_seconds`; return the exit code."""
        if (code := self.returncode) is not None:
            return code
        self._signal_group(signal.SIGTERM)
        try:
            return self._popen.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            return self._popen.wait()

    def kill(self) -> int:
        """SIGKILL its process group at once, as a crash would end it; return the exit code."""
        self._signal_group(signal.SIGKILL)
        return self._popen.wait()

    def log_tail(self, lines: int = TAIL_LINES) -> str:
        with self.log_path.open("rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - _TAIL_BYTES))
            text = log.read().decode(errors="replace")
        return "\n".join(f"    {line}" for line in text.splitlines()[-lines:])

    def _signal_group(self, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._popen.pid, signum)


async def wait_for(
    attempt: Callable[[], Awaitable[T | None]],
    *,
    what: str,
    give_up_after: float,
    watching: Iterable[ManagedProcess] = (),
) -> T:
    """Retry `attempt` until it returns a value; give up when a watched process exits or time is up.

    `attempt` answers None for "not yet" and must catch its own errors.
    """
    watching = tuple(watching)
    try:
        async with asyncio.timeout(give_up_after):
            return await _retry_until_value(attempt, watching)
    except TimeoutError:
        logs = ", ".join(str(process.log_path) for process in watching)
        raise NotReadyInTime(
            f"{what} was not ready after {give_up_after:.0f} s" + (f"; see {logs}" if logs else "")
        ) from None


async def _retry_until_value(
    attempt: Callable[[], Awaitable[T | None]], watching: Iterable[ManagedProcess]
) -> T:
    delay = POLL_SECONDS / 2
    while (result := await attempt()) is None:
        for process in watching:
            process.raise_if_exited()
        await asyncio.sleep(delay)
        delay = min(delay * 2, _LONGEST_RETRY_DELAY_SECONDS)
    return result


def _describe_exit(returncode: int | None) -> str:
    if returncode is None or returncode >= 0:
        return f"exited with code {returncode}"
    try:
        return f"was killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"was killed by signal {-returncode}"
