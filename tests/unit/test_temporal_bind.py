"""The embedded Temporal server and its Web UI listen on this machine only, unless told to.

Neither has a login, and whoever reaches them can terminate any order's workflow.
"""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

from doms.settings import Settings
from doms.temporal_server import dev_server_command

BINARY = Path("temporal")


def flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def settings_from(**variables: str) -> Settings:
    with mock.patch.dict(os.environ, variables, clear=True):
        return Settings()


def test_by_default_the_frontend_and_the_ui_listen_on_loopback() -> None:
    settings = settings_from()
    command = dev_server_command(BINARY, settings)

    assert flag(command, "--ip") == "127.0.0.1"
    assert flag(command, "--ui-ip") == "127.0.0.1"
    assert settings.temporal_ui_url.startswith("http://127.0.0.1:")


def test_the_ui_stays_on_loopback_when_only_the_frontend_is_opened() -> None:
    command = dev_server_command(BINARY, settings_from(DOMS_TEMPORAL_ADDRESS="0.0.0.0:7233"))

    assert flag(command, "--ip") == "0.0.0.0"
    assert flag(command, "--ui-ip") == "127.0.0.1"


def test_the_ui_listens_elsewhere_only_when_configured() -> None:
    command = dev_server_command(BINARY, settings_from(DOMS_TEMPORAL_UI_HOST="0.0.0.0"))

    assert flag(command, "--ui-ip") == "0.0.0.0"
