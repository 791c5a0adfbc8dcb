"""The real `doms` command with a bad DOMS_* variable: one line per bad setting, status 2,
no traceback, nothing started. tests/unit/test_invalid_settings.py covers every command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def doms(args: list[str], var_dir: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("DOMS_")}
    env.update(DOMS_VAR_DIR=str(var_dir), **variables)
    return subprocess.run(
        [sys.executable, "-m", "doms", *args], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("args", [["up"], ["keys", "list"]], ids=" ".join)
def test_a_bad_setting_is_one_line_and_status_2(tmp_path: Path, args: list[str]) -> None:
    result = doms(args, tmp_path, DOMS_RATE_LIMIT_PER_SECOND="abc")

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"doms {args[0]}: DOMS_RATE_LIMIT_PER_SECOND is 'abc': "
        "should be a valid number, unable to parse string as a number\n"
    )
    assert list(tmp_path.iterdir()) == []  # no database, log or key file: nothing started


def test_two_bad_settings_are_two_lines(tmp_path: Path) -> None:
    result = doms(["up"], tmp_path, DOMS_API_PORT="eighty", DOMS_TEMPORAL_ADDRESS="temporal")

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "doms up: DOMS_TEMPORAL_ADDRESS is 'temporal': should be host:port, e.g. 127.0.0.1:7233",
        "doms up: DOMS_API_PORT is 'eighty': "
        "should be a valid integer, unable to parse string as an integer",
    ]
