"""`doms up` refuses taken ports; the Temporal dev server starts, restarts and is supervised."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from doms.processes import ManagedProcess, ProcessExited
from doms.settings import Settings
from doms.temporal_server import (
    SEARCH_ATTRIBUTES,
    connect_when_ready,
    dev_server_command,
    find_temporal_binary,
    registered_search_attributes,
    start_dev_server,
    wait_until_ready,
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def settings_on_free_ports(var_dir: Path) -> Settings:
    return Settings(
        var_dir=var_dir,
        temporal_address=f"127.0.0.1:{free_port()}",
        temporal_ui_port=free_port(),
    )


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def doms_up(env_overrides: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("DOMS_")}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-m", "doms", "up"], env=env, capture_output=True, text=True, timeout=60
    )


def expected_attributes() -> dict[str, int]:
    return {key.name: int(key.indexed_value_type) for key in SEARCH_ATTRIBUTES}


def test_up_refuses_a_taken_api_port_with_one_clear_line(tmp_path: Path, taken_port: int) -> None:
    result = doms_up(
        {
            "DOMS_VAR_DIR": str(tmp_path),
            "DOMS_API_PORT": str(taken_port),
            "DOMS_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
            "DOMS_TEMPORAL_UI_PORT": str(free_port()),
        }
    )

    assert result.returncode == 2
    assert result.stderr == (
        f"doms up: port {taken_port} on 127.0.0.1 is already in use (API). "
        "Stop what uses it or set DOMS_API_PORT.\n"
    )
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "temporal.db").exists()


async def test_dev_server_registers_search_attributes_and_restarts_on_the_same_database(
    tmp_path: Path,
) -> None:
    settings = settings_on_free_ports(tmp_path)

    for _ in ("first start", "second start on the same file"):
        server = start_dev_server(settings)
        try:
            client = await connect_when_ready(settings, watching=[server])
            registered = await registered_search_attributes(client, settings.temporal_namespace)
        finally:
            server.stop()

        assert registered.items() >= expected_attributes().items()
        assert server.returncode == 0
    assert (tmp_path / "temporal.db").is_file()


async def test_ready_server_has_search_attributes_missing_from_an_older_database(
    tmp_path: Path,
) -> None:
    settings = settings_on_free_ports(tmp_path)
    older = ManagedProcess.start(
        "older dev server", without_search_attributes(settings), tmp_path / "older.log"
    )
    try:
        client = await connect_when_ready(settings, watching=[older])
        registered = await registered_search_attributes(client, settings.temporal_namespace)
        assert registered.keys().isdisjoint(expected_attributes())
    finally:
        older.stop()

    server = start_dev_server(settings)
    try:
        client = await wait_until_ready(server, settings)
        registered = await registered_search_attributes(client, settings.temporal_namespace)
    finally:
        server.stop()

    assert registered.items() >= expected_attributes().items()


async def test_waiting_fails_fast_with_the_log_when_the_server_cannot_start(tmp_path: Path) -> None:
    settings = settings_on_free_ports(tmp_path)
    with socket.socket() as holder:
        holder.bind((settings.temporal_host, settings.temporal_port))
        server = start_dev_server(settings)
        started = time.monotonic()

        with pytest.raises(ProcessExited) as failure:
            await wait_until_ready(server, settings)

    assert time.monotonic() - started < 10
    assert "the Temporal dev server exited with code 1" in str(failure.value)
    assert "address already in use" in str(failure.value)


def test_stop_kills_a_child_that_ignores_sigterm(tmp_path: Path) -> None:
    stubborn = ManagedProcess.start(
        "stubborn child",
        [sys.executable, "-c", IGNORE_SIGTERM_AND_WAIT],
        tmp_path / "stubborn.log",
    )
    wait_for_log_line(stubborn, "ready")

    assert stubborn.stop(grace_seconds=0.5) == -signal.SIGKILL


IGNORE_SIGTERM_AND_WAIT = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(60)
"""


def wait_for_log_line(process: ManagedProcess, line: str) -> None:
    deadline = time.monotonic() + 10
    while line not in process.log_path.read_text():
        assert process.returncode is None, process.log_tail()
        assert time.monotonic() < deadline, f"{process.name} never logged {line!r}"
        time.sleep(0.01)


def without_search_attributes(settings: Settings) -> list[str]:
    command = dev_server_command(find_temporal_binary(), settings)
    flags = [i for i, arg in enumerate(command) if arg == "--search-attribute"]
    dropped = {i for flag in flags for i in (flag, flag + 1)}
    return [arg for i, arg in enumerate(command) if i not in dropped]
