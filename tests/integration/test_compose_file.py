"""docker-compose.yml stays honest: Docker Compose accepts it, and it names only commands,
settings and search attributes that exist, on images pinned to a tag.

No Docker engine runs here; Debian's `docker-compose config` validates the file, and the
rest is read with PyYAML.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from doms.cli import COMMANDS
from doms.settings import Settings
from doms.temporal_server import cli_type_name
from workflows.search_attributes import ALL_KEYS

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
IN_CI = bool(os.environ.get("CI"))
# ${NAME}, ${NAME:-default} or ${NAME-default}: what Compose substitutes from the shell.
INTERPOLATION = re.compile(r"\$\{\w+(?::?-([^}]*))?\}")

Service = dict[str, Any]


@pytest.fixture(scope="module")
def services() -> dict[str, Service]:
    loaded: dict[str, Service] = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    return loaded


@pytest.fixture(scope="module")
def doms_services(services: dict[str, Service]) -> dict[str, Service]:
    """The services built from this repository, whose entry point is `doms`."""
    return {name: service for name, service in services.items() if "build" in service}


def docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        reason = "docker-compose is not installed (Debian: apt-get install docker-compose)"
        if IN_CI:
            pytest.fail(f"{reason}; CI must validate the compose file")
        pytest.skip(reason)
    return found


def environment_of(service: Service) -> dict[str, str]:
    """A service's variables, whether written as a mapping or as a list of NAME=VALUE."""
    declared = service.get("environment") or {}
    if isinstance(declared, list):
        declared = dict(entry.split("=", 1) for entry in declared)
    return {name: str(value) for name, value in declared.items()}


def with_defaults(value: str) -> str:
    """The value as Compose would pass it when no shell variable is set."""
    return INTERPOLATION.sub(lambda match: match.group(1) or "", value).replace("$$", "$")


def dependencies_of(service: Service) -> set[str]:
    return set(service.get("depends_on") or ())  # a list of names or a mapping by name


def waits_for(services: dict[str, Service], name: str) -> set[str]:
    """Every service `name` starts after, directly or through others."""
    found: set[str] = set()
    pending = dependencies_of(services[name])
    while pending:
        dependency = pending.pop()
        if dependency not in found:
            found.add(dependency)
            pending |= dependencies_of(services[dependency])
    return found


def test_docker_compose_accepts_the_file() -> None:
    result = subprocess.run(
        [docker_compose(), "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )

    assert result.returncode == 0, result.stderr


def test_every_doms_service_runs_a_real_doms_command(doms_services: dict[str, Service]) -> None:
    commands = {name: service.get("command") for name, service in doms_services.items()}

    for name, command in commands.items():
        # Exec form: the image's entry point is `doms`, so the first word is the subcommand.
        assert isinstance(command, list) and command[0] in COMMANDS, (name, command)
    assert {"migrate", "seed", "worker", "api"} <= {command[0] for command in commands.values()}


def test_every_doms_variable_is_a_setting_with_a_valid_value(
    services: dict[str, Service],
) -> None:
    known = {f"DOMS_{field.upper()}" for field in Settings.model_fields}

    for name, service in services.items():
        doms_variables = {
            variable: with_defaults(value)
            for variable, value in environment_of(service).items()
            if variable.startswith("DOMS_")
        }
        assert set(doms_variables) <= known, (name, sorted(set(doms_variables) - known))
        Settings(**{v.removeprefix("DOMS_").lower(): value for v, value in doms_variables.items()})


def test_every_image_is_pinned_to_a_tag_other_than_latest(services: dict[str, Service]) -> None:
    for name, service in services.items():
        image = service.get("image")
        assert image or "build" in service, f"{name} has neither an image nor a build"
        if image:
            repository, colon, tag = image.rpartition(":")
            pinned = colon and repository and "/" not in tag and tag != "latest"
            assert pinned, f"{name}: image {image} is not pinned to a tag"


def test_the_search_attributes_the_workflows_set_are_registered(
    services: dict[str, Service],
) -> None:
    script = " ".join(services["temporal-setup"]["command"])
    registered = re.search(r"for attribute in ([^;]+);", script)

    assert registered is not None, script
    assert dict(pair.split("=") for pair in registered.group(1).split()) == {
        key.name: cli_type_name(key) for key in ALL_KEYS
    }


def test_no_doms_process_starts_before_the_schema_stock_and_search_attributes_exist(
    services: dict[str, Service], doms_services: dict[str, Service]
) -> None:
    long_running = [n for n, s in doms_services.items() if s["command"][0] in {"worker", "api"}]

    assert long_running
    for name in long_running:
        assert {"postgres", "migrate", "seed", "temporal", "temporal-setup"} <= waits_for(
            services, name
        ), name


def test_the_schema_is_migrated_only_once_postgres_answers(services: dict[str, Service]) -> None:
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
