"""The smoke experiment: `doms experiment` at a tiny scale, seconds per cell, on the real
stack. Every table has every row, the values are finite and within bounds, the report files
exist, and the mechanism shows: distributed standard orders are fulfilled faster."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
MODES = ("centralized", "distributed")
LEVELS = ("low", "medium", "high")
ORDER_TYPES = ("standard", "expedited", "international")
TIMEOUT_SECONDS = 360


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("experiment")
    command = [sys.executable, "-m", "doms", "experiment", "--modes", ",".join(MODES)]
    command += ["--levels", ",".join(LEVELS), "--scale", "0.005", "--duration", "6"]
    # An even mix, so that every order type is delivered in a run this short.
    command += ["--mix", "standard=1,expedited=1,international=1", "--out", str(out)]
    run = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "cell 6/6" in run.stdout
    return out, json.loads((out / "report.json").read_text())


def finite(value: Any) -> float:
    assert isinstance(value, int | float) and math.isfinite(value), value
    return float(value)


def test_the_report_files_exist(experiment: tuple[Path, dict[str, Any]]) -> None:
    out, data = experiment
    for name in ("report.json", "report.md", "report.html"):
        assert (out / name).stat().st_size > 0
    markdown = (out / "report.md").read_text()
    assert "Table 4.1" in markdown and "Table 4.2" in markdown and "Table 4.3" in markdown
    assert "cannot generate" in markdown
    assert data["parameters"]["seed"] == 42 and data["machine"]["cpu_count"]


def test_table_4_1_has_every_mode_and_level_within_bounds(
    experiment: tuple[Path, dict[str, Any]],
) -> None:
    _, data = experiment
    rows = data["tables"]["4.1"]
    assert [(r["mode"], r["level"]) for r in rows] == [(m, lvl) for m in MODES for lvl in LEVELS]
    for row in rows:
        assert finite(row["achieved_orders_per_second"]) > 0
        assert finite(row["avg_ms"]) > 0 and finite(row["p95_ms"]) > 0
        assert finite(row["orders_per_hour"]) > 0
        assert row["errors"] is not None and row["errors"] >= 0


def test_tables_4_2_and_4_3_have_every_type_and_mode_within_bounds(
    experiment: tuple[Path, dict[str, Any]],
) -> None:
    _, data = experiment
    expected = [(kind, mode) for kind in ORDER_TYPES for mode in MODES]
    fulfilment, satisfaction = data["tables"]["4.2"], data["tables"]["4.3"]
    assert [(r["order_type"], r["mode"]) for r in fulfilment] == expected
    assert [(r["order_type"], r["mode"]) for r in satisfaction] == expected
    for row in fulfilment:
        assert row["delivered"] > 0
        assert finite(row["fulfilment_hours"]) > 0
        parts = (row["order_hours"], row["shipping_hours"], row["delivery_hours"])
        assert all(finite(part) >= 0 for part in parts)
        assert sum(parts) == pytest.approx(row["fulfilment_hours"])
    for row in satisfaction:
        assert row["surveys"] > 0
        assert 1 <= finite(row["satisfaction"]) <= 5
    # Every delivered order was rated: Table 4.3 counts what Table 4.2 delivered.
    assert [r["surveys"] for r in satisfaction] == [r["delivered"] for r in fulfilment]


def test_distributed_fulfils_standard_orders_faster_than_centralized(
    experiment: tuple[Path, dict[str, Any]],
) -> None:
    _, data = experiment
    t_f = {
        row["mode"]: row["fulfilment_hours"]
        for row in data["tables"]["4.2"]
        if row["order_type"] == "standard"
    }
    assert t_f["distributed"] < t_f["centralized"]
    assert all(not cell["drain"]["timed_out"] for cell in data["cells"])
