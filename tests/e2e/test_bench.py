"""`doms bench intake` against the real stack, and its refusal when there is no API."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from system import RunningSystem

from doms.local_system import free_port

BENCH_TIMEOUT_SECONDS = 120


async def doms(*args: str) -> tuple[int, str, str]:
    """Run `python -m doms ARGS` to the end: (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "doms", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), BENCH_TIMEOUT_SECONDS)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_intake_places_every_order_and_reports_ordered_percentiles(
    fast_system: RunningSystem, tmp_path: Path
) -> None:
    """`fast_system` (conftest) runs `doms up` at 36,000x and asserts a clean stop after."""
    figures_path = tmp_path / "intake.json"
    target = ["--url", fast_system.api_url, "--json", str(figures_path)]
    target += ["--api-key", fast_system.keys.operator]

    code, out, err = await doms("bench", "intake", "--orders", "20", *target)

    assert code == 0, err
    figures = json.loads(figures_path.read_text())
    assert (figures["orders"], figures["errors"]) == (20, 0), figures
    assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    assert figures["orders_per_second"] > 0
    assert "100%" in out and "latency p95" in out


async def test_intake_without_an_api_fails_with_one_clear_line() -> None:
    nobody_listens = f"http://127.0.0.1:{free_port()}"

    code, out, err = await doms("bench", "intake", "--orders", "5", "--url", nobody_listens)

    assert code != 0
    assert len(err.strip().splitlines()) == 1, err  # a message, not a traceback
    assert err.startswith(f"doms bench: cannot reach the API at {nobody_listens}: ")
    assert out == ""
