"""Refused settings as one line each: the DOMS_* variable, the value given, what it should be.

pydantic's own report names fields (`rate_limit_per_second`), not the variables people set,
and reaches them as a traceback; `doms` prints these lines instead (doms/cli.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from doms.settings import Settings

ENV_PREFIX = Settings.model_config.get("env_prefix", "")


class InvalidSettings(ValueError):
    """Settings refused; `problems` holds one line per bad setting."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_settings() -> Settings:
    """The settings of this process, from its DOMS_* variables; InvalidSettings if refused."""
    try:
        return Settings()
    except ValidationError as error:
        raise InvalidSettings(describe(error, os.environ)) from None


def describe(error: ValidationError, environ: Mapping[str, str]) -> list[str]:
    return [_line(details, environ) for details in error.errors()]


def _line(details: ErrorDetails, environ: Mapping[str, str]) -> str:
    expected = _expectation(details["msg"])
    if not details["loc"]:
        return expected  # a rule across settings: its message names each of them
    field, *inside = details["loc"]
    variable = f"{ENV_PREFIX}{field}".upper()
    given = _given(variable, environ, details["input"])
    where = f"item {'.'.join(map(str, inside))} " if inside else ""
    return f"{variable} is {given!r}: {where}{expected}"


def _expectation(message: str) -> str:
    """pydantic's "Input should be ..." and our validators' "Value error, should be ..." alike."""
    message = message.removeprefix("Value error, ")
    if message.startswith("Input should"):
        return message.removeprefix("Input ")
    return message


def _given(variable: str, environ: Mapping[str, str], parsed: object) -> str:
    """The text as it was set: variable names are not case-sensitive to pydantic-settings."""
    for name, value in environ.items():
        if name.upper() == variable:
            return value
    return str(parsed)
