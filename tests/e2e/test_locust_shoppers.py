"""Locust shoppers on the real stack: they place orders, answer surveys once delivered,
and a run fails its thresholds by exit code. Locust runs as a subprocess: importing it
would patch this process with gevent."""

from __future__ import annotations

import asyncio
import csv
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from system import RunningSystem

REPO = Path(__file__).resolve().parents[2]
LOCUSTFILE = REPO / "loadtest" / "locustfile.py"
LOCUST_TIMEOUT_SECONDS = 60
PLACE, SURVEY = "POST /orders", "POST /orders/{id}/survey"


@dataclass
class LocustRun:
    exit_code: int
    log: str
    stats: dict[str, dict[str, str]]  # CSV row per request name

    def count(self, name: str, column: str = "Request Count") -> int:
        return int(self.stats[name][column]) if name in self.stats else 0


async def run_locust(system: RunningSystem, out: Path, *args: str, **settings: str) -> LocustRun:
    """Run Locust headless against the system, with DOMS_LOAD_* `settings`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("DOMS_")}
    env.update(DOMS_LOAD_SEED="7", DOMS_API_KEY=system.keys.operator, **settings)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        system.api_url,
        "--csv",
        str(out / "run"),
        "--only-summary",
        *args,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), LOCUST_TIMEOUT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    with (out / "run_stats.csv").open() as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    return LocustRun(process.returncode, output.decode(), rows)


def summary_line(log: str) -> str:
    [line] = [line for line in log.splitlines() if "orders placed:" in line]
    return line


async def test_shoppers_place_orders_and_answer_the_surveys_of_delivered_ones(
    fast_system: RunningSystem, tmp_path: Path
) -> None:
    run = await run_locust(fast_system, tmp_path, "-u", "4", "-r", "4", "-t", "20s")

    assert run.exit_code == 0, run.log[-3000:]
    assert run.count(PLACE) > 0
    assert run.count(PLACE, "Failure Count") == 0, run.log[-3000:]
    assert run.count(SURVEY) > 0, run.log[-3000:]
    assert run.count(SURVEY, "Failure Count") == 0
    answered = re.search(r"surveys answered: (\d+)", summary_line(run.log))
    assert answered is not None and int(answered.group(1)) > 0, summary_line(run.log)
    print(summary_line(run.log))
    # The API holds those answers: a second answer to a delivered order is refused.
    async with fast_system.client() as http:
        page = await http.get("/orders", params={"status": "delivered", "limit": 200})
        again = [
            await http.post(
                f"/orders/{order['order_id']}/survey",
                json={"delivery_time": 3, "accuracy": 3, "overall": 3},
            )
            for order in page.json()["items"]
        ]
    assert any(response.status_code == 409 for response in again)


async def test_a_run_over_its_p95_threshold_exits_non_zero(
    fast_system: RunningSystem, tmp_path: Path
) -> None:
    run = await run_locust(
        fast_system, tmp_path, "-u", "1", "-r", "1", "-t", "3s", DOMS_LOAD_MAX_P95_MS="0.001"
    )

    assert run.exit_code == 1, run.log[-3000:]
    assert "threshold breached: p95" in run.log
    assert run.count(PLACE) > 0 and run.count(PLACE, "Failure Count") == 0


async def test_a_load_level_places_orders_at_its_constant_rate(
    fast_system: RunningSystem, tmp_path: Path
) -> None:
    # low = the paper's 200 orders/s x 0.01 = 2 orders/s, from 2 shoppers at 1/s each.
    run = await run_locust(
        fast_system, tmp_path, "-t", "6s", DOMS_LOAD_LEVEL="low", DOMS_LOAD_SURVEYS="0"
    )

    assert run.exit_code == 0, run.log[-3000:]
    assert "load level low: 2.0 orders/s" in run.log
    assert 6 <= run.count(PLACE) <= 14, run.stats[PLACE]  # 12 at exactly 2/s for 6 s
    assert run.count(SURVEY) == 0
