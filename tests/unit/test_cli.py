"""The `doms` command line: each command imports only what it runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from doms.cli import build_parser

# The tools' modules and what they pull in; none is needed to migrate, seed or start.
TOOLS = ("doms.chaos", "doms.bench", "doms.experiment", "doms.sourcing_report", "temporalio")


def modules_loaded_by(*argv: str) -> set[str]:
    """The modules of TOOLS that parsing `doms ARGV` imports, in a fresh interpreter."""
    probe = (
        "import sys\n"
        "from doms.cli import build_parser, _command_in\n"
        f"argv = {list(argv)!r}\n"
        "build_parser(_command_in(argv)).parse_args(argv)\n"
        f"print(' '.join(m for m in {TOOLS!r} if m in sys.modules))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(run.stdout.split())


@pytest.mark.parametrize("argv", [["migrate"], ["seed"], ["--network", "x.toml", "up"]])
def test_a_system_command_imports_none_of_the_tools(argv: list[str]) -> None:
    assert modules_loaded_by(*argv) == set()


def test_a_tool_command_gets_its_own_arguments() -> None:
    assert "doms.chaos" in modules_loaded_by("chaos", "--orders", "5")
    assert build_parser("chaos").parse_args(["chaos", "--orders", "5"]).orders == 5
    assert build_parser().parse_args(["chaos", "--orders", "5"]).orders == 5
