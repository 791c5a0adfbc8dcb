"""The experiment report: every table has every row, ratios are right, missing data is "—",
and the HTML carries its plots. Pure functions of collected data; no system runs here."""

from __future__ import annotations

import argparse
import base64
import math
from pathlib import Path
from typing import Any

import pytest

from doms import experiment
from loadtest import report
from loadtest.paper import LEVELS, MODES, ORDER_TYPES, PAPER_TABLE_4_1

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def fulfilment_group(mode: str, kind: str, delivered: int, t_f: float) -> dict[str, Any]:
    return {
        "mode": mode,
        "order_type": kind,
        "delivered": delivered,
        "order_hours": 0.1 * t_f,
        "shipping_hours": 0.2 * t_f,
        "delivery_hours": 0.7 * t_f,
        "fulfilment_hours": t_f,
    }


def satisfaction_group(mode: str, kind: str, surveys: int, score: float) -> dict[str, Any]:
    return {"mode": mode, "order_type": kind, "surveys": surveys, "satisfaction": score}


def cell(mode: str, level: str, t_f: float, score: float, count: int = 10) -> dict[str, Any]:
    return {
        "mode": mode,
        "level": level,
        "target_orders_per_second": 2.0,
        "error": None,
        "locust": {"requests": 20, "failures": 1, "avg_ms": 40.0, "p95_ms": 80.0}
        | {"achieved_orders_per_second": 2.5},
        "reports": {
            "fulfilment": {
                "groups": [fulfilment_group(mode, kind, count, t_f) for kind in ORDER_TYPES]
            },
            "satisfaction": {
                "groups": [satisfaction_group(mode, kind, count, score) for kind in ORDER_TYPES]
            },
        },
    }


def full_data() -> dict[str, Any]:
    cells = []
    for level in LEVELS:
        cells.append(cell("centralized", level, t_f=8.0, score=3.0))
        cells.append(cell("distributed", level, t_f=4.0, score=4.5))
    return {"parameters": {"modes": list(MODES), "levels": list(LEVELS), "scale": 0.01}} | {
        "machine": {"cpu_count": 2},
        "cells": cells,
    }


def test_every_table_has_every_row() -> None:
    tables = report.build_tables(full_data())

    assert [(r.mode, r.level) for r in tables.performance] == [
        (mode, level) for mode in MODES for level in LEVELS
    ]
    expected = [(kind, mode) for kind in ORDER_TYPES for mode in MODES]
    assert [(r.order_type, r.mode) for r in tables.fulfilment] == expected
    assert [(r.order_type, r.mode) for r in tables.satisfaction] == expected
    assert [r.order_type for r in tables.fulfilment_ratios] == list(ORDER_TYPES)
    assert [r.order_type for r in tables.satisfaction_ratios] == list(ORDER_TYPES)


def test_performance_rows_carry_ours_and_the_papers_figures() -> None:
    [row, *_] = report.build_tables(full_data()).performance

    assert row.achieved_orders_per_second == 2.5
    assert row.orders_per_hour == 2.5 * 3600
    assert (row.avg_ms, row.p95_ms, row.errors) == (40.0, 80.0, 1)
    assert row.paper_orders_per_second == PAPER_TABLE_4_1["low"].orders_per_second == 200
    assert row.paper_response_ms == 50
    assert row.paper_orders_per_hour == 720_000


def test_ratios_are_distributed_over_centralized_for_ours_and_the_paper() -> None:
    tables = report.build_tables(full_data())

    standard_f, expedited_f, international_f = tables.fulfilment_ratios
    assert standard_f.ours == pytest.approx(0.5)
    assert standard_f.paper == pytest.approx(3 / 6)
    assert expedited_f.paper == pytest.approx(2 / 4)
    assert international_f.paper == pytest.approx(6 / 10)
    standard_s, expedited_s, international_s = tables.satisfaction_ratios
    assert standard_s.ours == pytest.approx(1.5)
    assert standard_s.paper == pytest.approx(4.5 / 3.8)
    assert expedited_s.paper == pytest.approx(4.7 / 4.2)
    assert international_s.paper == pytest.approx(4.4 / 3.5)


def test_levels_pool_into_a_mean_weighted_by_counts() -> None:
    data = {
        "parameters": {"modes": ["centralized"], "levels": ["low", "high"]},
        "cells": [
            cell("centralized", "low", t_f=2.0, score=2.0, count=1),
            cell("centralized", "high", t_f=6.0, score=5.0, count=3),
        ],
    }
    tables = report.build_tables(data)

    standard = tables.fulfilment[0]
    assert standard.delivered == 4
    assert standard.fulfilment_hours == pytest.approx((2.0 + 3 * 6.0) / 4)
    assert standard.shipping_hours == pytest.approx(0.2 * 5.0)
    assert tables.satisfaction[0].satisfaction == pytest.approx((2.0 + 3 * 5.0) / 4)
    # the paper's modes are always listed, centralized only here: no ratio to compute
    assert [r.mode for r in tables.fulfilment] == ["centralized"] * 3
    assert tables.fulfilment_ratios[0].ours is None


def test_missing_data_is_rendered_as_a_dash() -> None:
    data = {
        "parameters": {"modes": list(MODES), "levels": list(LEVELS), "scale": 0.01},
        "cells": [{"mode": "centralized", "level": "low", "error": "doms up exited with 1"}],
    }
    tables = report.build_tables(data)
    markdown = report.render_markdown(data, {})

    assert len(tables.performance) == 6 and len(tables.fulfilment) == 6
    assert tables.fulfilment[0].fulfilment_hours is None
    assert tables.fulfilment_ratios[0].ours is None
    assert "| centralized | low | — | — | — | — | — | — | 200 | 50 | 720,000 |" in markdown
    assert "| standard | centralized | 0 | — | — | — | — | 6.0 |" in markdown
    assert "| standard | — | 0.50 |" in markdown
    assert "Cell centralized-low failed: doms up exited with 1" in markdown


@pytest.mark.parametrize("value", [None, math.nan, math.inf])
def test_fmt_renders_missing_and_non_finite_values_as_a_dash(value: float | None) -> None:
    assert report.fmt(value) == "—"


def test_fmt_renders_numbers() -> None:
    assert report.fmt(1234.567, 1) == "1,234.6"
    assert report.fmt(7) == "7"


def test_markdown_has_the_three_tables_the_scale_note_and_the_machine() -> None:
    markdown = report.render_markdown(full_data(), {"fulfilment": "fulfilment.png"})

    for title in ("Table 4.1", "Table 4.2", "Table 4.3"):
        assert title in markdown
    assert "cannot generate" in markdown and "--scale (0.01)" in markdown
    assert "![" in markdown and "(fulfilment.png)" in markdown
    assert "cpu_count: 2" in markdown


def test_drain_timeouts_are_reported() -> None:
    data = full_data()
    data["cells"][0]["drain"] = {"timed_out": True, "pending": 3, "seconds": 120}

    assert "drain timed out with 3 order(s) not final" in report.render_markdown(data, {})


def test_html_embeds_every_plot_as_a_png() -> None:
    tables = report.build_tables(full_data())
    plots = report.render_plots(tables)
    if not report.plotting_available():
        pytest.skip("matplotlib is not installed")
    page = report.render_html(full_data(), plots)

    assert set(plots) == {"response_time", "fulfilment", "satisfaction"}
    assert all(png.startswith(PNG_MAGIC) for png in plots.values())
    assert page.count('src="data:image/png;base64,') == 3
    encoded = page.split('src="data:image/png;base64,')[1].split('"')[0]
    assert base64.b64decode(encoded).startswith(PNG_MAGIC)
    assert page.count("<table>") == 5  # 4.1, 4.2 and its ratios, 4.3 and its ratios


def test_html_escapes_text() -> None:
    data = full_data()
    data["cells"][0]["error"] = "<boom>"

    page = report.render_html(data, {})
    assert "&lt;boom&gt;" in page and "<boom>" not in page


def test_plots_render_with_missing_data() -> None:
    if not report.plotting_available():
        pytest.skip("matplotlib is not installed")
    tables = report.build_tables({"parameters": {}, "cells": []})

    assert all(png.startswith(PNG_MAGIC) for png in report.render_plots(tables).values())


def test_tables_as_json_keep_every_row() -> None:
    as_json = report.build_tables(full_data()).as_json()

    assert len(as_json["4.1"]) == 6 and len(as_json["4.2"]) == 6 and len(as_json["4.3"]) == 6
    assert as_json["4.2_ratios"][0] == {"order_type": "standard", "ours": 0.5, "paper": 0.5}


# --- the runner's pure helpers (doms/experiment.py) ------------------------------------------

LOCUST_STATS = """Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,\
Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,\
90%,95%,98%,99%,99.9%,99.99%,100%
POST,POST /orders,40,2,50,55.5,20,300,900,5.0,0.25,50,60,70,80,90,120,200,250,300,300,300
GET,GET /orders/{id},10,0,5,6.0,2,20,900,1.2,0,5,6,7,8,9,10,20,20,20,20,20
,Aggregated,50,2,40,45.6,2,300,900,6.2,0.25,40,50,60,70,80,110,200,250,300,300,300
"""


def test_locust_figures_read_post_orders_from_the_stats_csv(tmp_path: Path) -> None:
    stats = tmp_path / "locust_stats.csv"
    stats.write_text(LOCUST_STATS)

    figures = experiment.locust_figures(stats, duration=8, exit_code=0)

    assert (figures["requests"], figures["failures"]) == (40, 2)
    assert (figures["avg_ms"], figures["p95_ms"]) == (55.5, 120.0)
    assert figures["achieved_orders_per_second"] == 40 / 8
    assert (figures["all_requests"], figures["all_failures"]) == (50, 2)


def test_pending_orders_counts_the_orders_not_final() -> None:
    performance = {"total": {"by_status": {"delivered": 5, "shipped": 2, "allocated": 1}}}
    performance["total"]["by_status"] |= {"rejected": 3, "cancelled": 1, "failed": 1}

    assert experiment.pending_orders(performance) == 3
    assert experiment.pending_orders({"total": {"by_status": {}}}) == 0


def test_arguments_are_checked() -> None:
    parser = argparse.ArgumentParser()
    experiment.add_arguments(parser)

    args = parser.parse_args(["--modes", "distributed,centralized", "--levels", "high"])
    assert args.modes == ["distributed", "centralized"] and args.levels == ["high"]
    for bad in (["--levels", "extreme"], ["--scale", "0"], ["--mix", "express=1"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_a_cell_that_cannot_start_is_reported_with_its_name_and_log(tmp_path: Path) -> None:
    failed = {"mode": "distributed", "level": "high", "error": "doms up exited with 1"}
    failed["log"] = str(tmp_path / "up.log")
    data: dict[str, Any] = {"parameters": {"scale": 0.01}, "cells": [failed]}

    assert f"Cell distributed-high failed: doms up exited with 1 (log: {tmp_path / 'up.log'})" in (
        report.render_markdown(data, {})
    )


def test_an_interrupted_run_says_so() -> None:
    data = full_data() | {"interrupted": True}

    assert "The run was interrupted" in report.render_markdown(data, {})
