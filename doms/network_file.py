"""Reading a network description (TOML): the packaged default, or the file a user names."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from domain.network_spec import NetworkSpec, NetworkSpecError, parse_network_spec

PACKAGED_DEFAULT = "doms/networks/default.toml"


class NetworkFileError(Exception):
    """A network file that cannot be used: missing, not TOML, or not a valid network."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        listed = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"network file {source}: {len(self.problems)} problem(s)\n{listed}")


def load_network_spec(path: Path | None) -> NetworkSpec:
    """The network described in `path`, or the packaged default network when None."""
    if path is None:
        source, text = PACKAGED_DEFAULT, _packaged_default()
    else:
        source, text = str(path), _read(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise NetworkFileError(source, [f"not valid TOML: {error}"]) from None
    try:
        return parse_network_spec(data)
    except NetworkSpecError as error:
        raise NetworkFileError(source, error.problems) from None


def _packaged_default() -> str:
    return resources.files("doms").joinpath("networks", "default.toml").read_text("utf-8")


def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        raise NetworkFileError(str(path), ["file not found"]) from None
    except UnicodeDecodeError:
        raise NetworkFileError(str(path), ["not UTF-8 text"]) from None
    except OSError as error:
        raise NetworkFileError(str(path), [f"cannot be read: {error.strerror}"]) from None
