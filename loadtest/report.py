"""The experiment report: the paper's three tables from collected figures, as Markdown, HTML
and PNG plots. Pure functions of the data `doms experiment` writes to report.json; nothing
here runs the system, and every missing figure is rendered as "—".

The collected data (report.json) holds `parameters`, `machine` and one entry per cell (mode x
load level) under `cells`, each with its Locust figures (`locust`), its drain outcome and the
three `reports` of the reports API. Table 4.1 has a row per mode and level; Tables 4.2 and 4.3
pool every level of a mode (means weighted by their counts) per order type.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from loadtest.paper import (
    CENTRALIZED,
    DISTRIBUTED,
    LEVELS,
    MODES,
    ORDER_TYPES,
    PAPER_TABLE_4_1,
    PAPER_TABLE_4_2_HOURS,
    PAPER_TABLE_4_3_SCORES,
)

MISSING = "—"
SECONDS_PER_HOUR = 3600.0
SCALE_NOTE = (
    "One laptop cannot generate (or serve) the paper's 1,000 orders/s through HTTP and "
    "Temporal: every load level runs at the paper's rate times --scale ({scale:g})."
)
PAPER_NOTE = (
    "Columns marked *paper* are the paper's published figures, printed for comparison; "
    "they are not our measurements."
)
PLOT_TITLES: Mapping[str, str] = {
    "response_time": "Response time of POST /orders against load, per mode",
    "fulfilment": "Mean fulfilment time T_f per order type and mode, by component",
    "satisfaction": "Mean satisfaction per order type and mode",
}

Cell = Mapping[str, Any]


# --- the tables as data ---------------------------------------------------------------------


@dataclass(frozen=True)
class PerformanceRow:
    """Table 4.1, one mode at one load level."""

    mode: str
    level: str
    paper_orders_per_second: float
    target_orders_per_second: float | None
    achieved_orders_per_second: float | None
    avg_ms: float | None
    p95_ms: float | None
    orders_per_hour: float | None
    errors: int | None
    paper_response_ms: float
    paper_orders_per_hour: float


@dataclass(frozen=True)
class FulfilmentRow:
    """Table 4.2, one order type in one mode, pooled over the load levels."""

    order_type: str
    mode: str
    delivered: int
    order_hours: float | None
    shipping_hours: float | None
    delivery_hours: float | None
    fulfilment_hours: float | None
    paper_fulfilment_hours: float | None


@dataclass(frozen=True)
class SatisfactionRow:
    """Table 4.3, one order type in one mode, pooled over the load levels."""

    order_type: str
    mode: str
    surveys: int
    satisfaction: float | None
    paper_satisfaction: float | None


@dataclass(frozen=True)
class Ratio:
    """distributed / centralized for one order type: ours and the paper's."""

    order_type: str
    ours: float | None
    paper: float | None


@dataclass(frozen=True)
class Tables:
    performance: list[PerformanceRow]
    fulfilment: list[FulfilmentRow]
    fulfilment_ratios: list[Ratio]
    satisfaction: list[SatisfactionRow]
    satisfaction_ratios: list[Ratio]

    def as_json(self) -> dict[str, Any]:
        return {
            "4.1": [asdict(row) for row in self.performance],
            "4.2": [asdict(row) for row in self.fulfilment],
            "4.2_ratios": [asdict(row) for row in self.fulfilment_ratios],
            "4.3": [asdict(row) for row in self.satisfaction],
            "4.3_ratios": [asdict(row) for row in self.satisfaction_ratios],
        }


def build_tables(data: Mapping[str, Any]) -> Tables:
    """Every table with every row: the modes and levels asked for (at least the paper's)."""
    modes = _ordered(data.get("parameters", {}).get("modes"), MODES)
    levels = _ordered(data.get("parameters", {}).get("levels"), LEVELS)
    cells: Sequence[Cell] = data.get("cells", [])
    fulfilment = [fulfilment_row(cells, kind, mode) for kind in ORDER_TYPES for mode in modes]
    satisfaction = [satisfaction_row(cells, kind, mode) for kind in ORDER_TYPES for mode in modes]
    return Tables(
        performance=[performance_row(cells, mode, level) for mode in modes for level in levels],
        fulfilment=fulfilment,
        fulfilment_ratios=ratios(
            {(row.order_type, row.mode): row.fulfilment_hours for row in fulfilment},
            PAPER_TABLE_4_2_HOURS,
        ),
        satisfaction=satisfaction,
        satisfaction_ratios=ratios(
            {(row.order_type, row.mode): row.satisfaction for row in satisfaction},
            PAPER_TABLE_4_3_SCORES,
        ),
    )


def _ordered(asked: Iterable[str] | None, known: Sequence[str]) -> list[str]:
    """The known names first, in their order, then any others asked for."""
    chosen = list(asked) if asked else list(known)
    return [name for name in known if name in chosen] + [n for n in chosen if n not in known]


def find_cell(cells: Sequence[Cell], mode: str, level: str) -> Cell | None:
    return next((c for c in cells if c.get("mode") == mode and c.get("level") == level), None)


def performance_row(cells: Sequence[Cell], mode: str, level: str) -> PerformanceRow:
    paper = PAPER_TABLE_4_1.get(level)
    cell = find_cell(cells, mode, level) or {}
    locust: Mapping[str, Any] = cell.get("locust") or {}
    achieved = _number(locust.get("achieved_orders_per_second"))
    errors = locust.get("failures")
    return PerformanceRow(
        mode=mode,
        level=level,
        paper_orders_per_second=paper.orders_per_second if paper else math.nan,
        target_orders_per_second=_number(cell.get("target_orders_per_second")),
        achieved_orders_per_second=achieved,
        avg_ms=_number(locust.get("avg_ms")),
        p95_ms=_number(locust.get("p95_ms")),
        orders_per_hour=achieved * SECONDS_PER_HOUR if achieved is not None else None,
        errors=int(errors) if isinstance(errors, int) else None,
        paper_response_ms=paper.response_ms if paper else math.nan,
        paper_orders_per_hour=paper.orders_per_hour if paper else math.nan,
    )


def _groups(cells: Sequence[Cell], report: str, mode: str, kind: str) -> list[Mapping[str, Any]]:
    """The report groups of one mode and order type, from every cell of that mode."""
    found = []
    for cell in cells:
        if cell.get("mode") != mode:
            continue
        groups = ((cell.get("reports") or {}).get(report) or {}).get("groups") or []
        found += [g for g in groups if g.get("mode") == mode and g.get("order_type") == kind]
    return found


def weighted_mean(pairs: Iterable[tuple[int, float | None]]) -> float | None:
    """The mean of group means weighted by their counts; None without data."""
    total = weight = 0.0
    for count, mean in pairs:
        if count > 0 and mean is not None and math.isfinite(mean):
            total += count * mean
            weight += count
    return total / weight if weight else None


def fulfilment_row(cells: Sequence[Cell], kind: str, mode: str) -> FulfilmentRow:
    groups = _groups(cells, "fulfilment", mode, kind)
    counts = [int(g.get("delivered") or 0) for g in groups]

    def mean(field: str) -> float | None:
        return weighted_mean(zip(counts, (_number(g.get(field)) for g in groups), strict=True))

    return FulfilmentRow(
        order_type=kind,
        mode=mode,
        delivered=sum(counts),
        order_hours=mean("order_hours"),
        shipping_hours=mean("shipping_hours"),
        delivery_hours=mean("delivery_hours"),
        fulfilment_hours=mean("fulfilment_hours"),
        paper_fulfilment_hours=PAPER_TABLE_4_2_HOURS.get(kind, {}).get(mode),
    )


def satisfaction_row(cells: Sequence[Cell], kind: str, mode: str) -> SatisfactionRow:
    groups = _groups(cells, "satisfaction", mode, kind)
    counts = [int(g.get("surveys") or 0) for g in groups]
    scores = (_number(g.get("satisfaction")) for g in groups)
    return SatisfactionRow(
        order_type=kind,
        mode=mode,
        surveys=sum(counts),
        satisfaction=weighted_mean(zip(counts, scores, strict=True)),
        paper_satisfaction=PAPER_TABLE_4_3_SCORES.get(kind, {}).get(mode),
    )


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def ratios(
    ours: Mapping[tuple[str, str], float | None], paper: Mapping[str, Mapping[str, float]]
) -> list[Ratio]:
    """distributed / centralized per order type, ours and the paper's."""
    return [
        Ratio(
            kind,
            ratio(ours.get((kind, DISTRIBUTED)), ours.get((kind, CENTRALIZED))),
            ratio(paper.get(kind, {}).get(DISTRIBUTED), paper.get(kind, {}).get(CENTRALIZED)),
        )
        for kind in ORDER_TYPES
    ]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def fmt(value: float | int | None, digits: int = 1) -> str:
    """A figure for a table; "—" when it is missing or not finite."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


# --- tables as rows of text -----------------------------------------------------------------

Grid = tuple[list[str], list[list[str]]]  # header, rows


def performance_grid(rows: Sequence[PerformanceRow]) -> Grid:
    header = [
        "mode",
        "level",
        "target orders/s",
        "achieved orders/s",
        "avg ms",
        "p95 ms",
        "orders/hour",
        "errors",
        "paper orders/s",
        "paper avg ms",
        "paper orders/hour",
    ]
    body = [
        [
            row.mode,
            row.level,
            fmt(row.target_orders_per_second, 2),
            fmt(row.achieved_orders_per_second, 2),
            fmt(row.avg_ms),
            fmt(row.p95_ms),
            fmt(row.orders_per_hour, 0),
            fmt(row.errors),
            fmt(row.paper_orders_per_second, 0),
            fmt(row.paper_response_ms, 0),
            fmt(row.paper_orders_per_hour, 0),
        ]
        for row in rows
    ]
    return header, body


def fulfilment_grid(rows: Sequence[FulfilmentRow]) -> Grid:
    header = ["order type", "mode", "delivered", "T_order h", "T_shipping h", "T_delivery h"]
    header += ["T_f h", "paper T_f h"]
    body = [
        [
            row.order_type,
            row.mode,
            fmt(row.delivered),
            fmt(row.order_hours, 3),
            fmt(row.shipping_hours, 2),
            fmt(row.delivery_hours, 2),
            fmt(row.fulfilment_hours, 2),
            fmt(row.paper_fulfilment_hours, 1),
        ]
        for row in rows
    ]
    return header, body


def satisfaction_grid(rows: Sequence[SatisfactionRow]) -> Grid:
    header = ["order type", "mode", "surveys", "satisfaction (1-5)", "paper satisfaction"]
    body = [
        [
            row.order_type,
            row.mode,
            fmt(row.surveys),
            fmt(row.satisfaction, 2),
            fmt(row.paper_satisfaction, 1),
        ]
        for row in rows
    ]
    return header, body


def ratio_grid(rows: Sequence[Ratio]) -> Grid:
    header = ["order type", "distributed / centralized (ours)", "distributed / centralized (paper)"]
    return header, [[row.order_type, fmt(row.ours, 2), fmt(row.paper, 2)] for row in rows]


def sections(tables: Tables) -> list[tuple[str, list[Grid]]]:
    return [
        ("Table 4.1 — system performance under load", [performance_grid(tables.performance)]),
        (
            "Table 4.2 — mean order fulfilment time (simulated hours)",
            [fulfilment_grid(tables.fulfilment), ratio_grid(tables.fulfilment_ratios)],
        ),
        (
            "Table 4.3 — mean customer satisfaction",
            [satisfaction_grid(tables.satisfaction), ratio_grid(tables.satisfaction_ratios)],
        ),
    ]


def notes(data: Mapping[str, Any]) -> list[str]:
    """What a reader must know: the scale, the paper's columns, failed cells, drain timeouts."""
    parameters = data.get("parameters", {})
    lines = [SCALE_NOTE.format(scale=parameters.get("scale", math.nan)), PAPER_NOTE]
    for cell in data.get("cells", []):
        name = f"{cell.get('mode')}-{cell.get('level')}"
        error = cell.get("error")
        if error:
            where = "" if "log:" in str(error) else f" (log: {cell.get('log')})"
            lines.append(f"Cell {name} failed: {error}{where}")
        drain = cell.get("drain") or {}
        if drain.get("timed_out"):
            lines.append(
                f"Cell {name}: the drain timed out with {drain.get('pending')} order(s) not "
                "final; their times are missing from Tables 4.2 and 4.3."
            )
    if data.get("interrupted"):
        lines.append("The run was interrupted: only the cells finished before it are reported.")
    if data.get("plots_note"):
        lines.append(str(data["plots_note"]))
    return lines


def parameter_lines(data: Mapping[str, Any]) -> list[str]:
    items = {**data.get("parameters", {}), **data.get("machine", {})}
    items["started_at"] = data.get("started_at")
    items["finished_at"] = data.get("finished_at")
    return [f"{name}: {_plain(value)}" for name, value in items.items()]


def _plain(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return MISSING if value is None else str(value)


# --- Markdown -------------------------------------------------------------------------------


def markdown_table(grid: Grid) -> str:
    header, rows = grid
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def render_markdown(data: Mapping[str, Any], plot_files: Mapping[str, str]) -> str:
    """report.md; `plot_files` maps a plot's name to its file beside the report."""
    tables = build_tables(data)
    parts = ["# DOMS experiment: the paper's evaluation, reproduced", ""]
    parts += [f"- {line}" for line in notes(data)] + [""]
    for title, grids in sections(tables):
        parts += [f"## {title}", ""]
        for grid in grids:
            parts += [markdown_table(grid), ""]
    if plot_files:
        parts += ["## Plots", ""]
        parts += [f"![{PLOT_TITLES.get(n, n)}]({f})" for n, f in plot_files.items()] + [""]
    parts += ["## Parameters and machine", ""] + [f"- {line}" for line in parameter_lines(data)]
    return "\n".join(parts) + "\n"


# --- HTML -----------------------------------------------------------------------------------


def html_table(grid: Grid) -> str:
    header, rows = grid
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells) + "</tr>"
        for cells in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_image(name: str, png: bytes) -> str:
    title = html.escape(PLOT_TITLES.get(name, name))
    encoded = base64.b64encode(png).decode("ascii")
    image = f'<img alt="{title}" src="data:image/png;base64,{encoded}">'
    return f"<figure>{image}<figcaption>{title}</figcaption></figure>"


STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:75em}"
    "table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #bbb;padding:.25em .6em;text-align:right}"
    "td:first-child,td:nth-child(2),th{text-align:left}img{max-width:100%}"
)


def render_html(data: Mapping[str, Any], plots: Mapping[str, bytes]) -> str:
    """report.html, with every plot embedded as a base64 PNG."""
    tables = build_tables(data)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>DOMS experiment</title><style>{STYLE}</style></head><body>",
        "<h1>DOMS experiment: the paper's evaluation, reproduced</h1><ul>",
        *(f"<li>{html.escape(line)}</li>" for line in notes(data)),
        "</ul>",
    ]
    for title, grids in sections(tables):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts += [html_table(grid) for grid in grids]
    if plots:
        parts.append("<h2>Plots</h2>")
        parts += [html_image(name, png) for name, png in plots.items()]
    parts.append("<h2>Parameters and machine</h2><ul>")
    parts += [f"<li>{html.escape(line)}</li>" for line in parameter_lines(data)]
    parts.append("</ul></body></html>")
    return "\n".join(parts) + "\n"


# --- plots ----------------------------------------------------------------------------------


def plotting_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def render_plots(tables: Tables) -> dict[str, bytes]:
    """The three plots as PNG bytes; empty when matplotlib is not installed."""
    if not plotting_available():
        return {}
    import matplotlib

    matplotlib.use("Agg")
    return {
        "response_time": _png(_response_time_plot, tables),
        "fulfilment": _png(_fulfilment_plot, tables),
        "satisfaction": _png(_satisfaction_plot, tables),
    }


def _png(draw: Any, tables: Tables) -> bytes:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4.5), dpi=100)
    draw(figure.subplots(), tables)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _plot_value(value: float | None) -> float:
    return value if value is not None else math.nan


def _response_time_plot(axes: Any, tables: Tables) -> None:
    for mode in dict.fromkeys(row.mode for row in tables.performance):
        rows = [row for row in tables.performance if row.mode == mode]
        load = [_plot_value(row.target_orders_per_second) for row in rows]
        axes.plot(load, [_plot_value(r.avg_ms) for r in rows], marker="o", label=f"{mode} avg")
        axes.plot(
            load, [_plot_value(r.p95_ms) for r in rows], marker="x", ls="--", label=f"{mode} p95"
        )
    axes.set_xlabel("target load (orders/s, paper's rate x scale)")
    axes.set_ylabel("POST /orders response time (ms)")
    axes.set_title(PLOT_TITLES["response_time"])
    axes.legend()


def _fulfilment_plot(axes: Any, tables: Tables) -> None:
    rows = tables.fulfilment
    labels = [f"{row.order_type}\n{row.mode}" for row in rows]
    positions = list(range(len(rows)))
    bottom = [0.0] * len(rows)
    for field, label in (
        ("order_hours", "T_order"),
        ("shipping_hours", "T_shipping"),
        ("delivery_hours", "T_delivery"),
    ):
        heights = [getattr(row, field) or 0.0 for row in rows]
        axes.bar(positions, heights, bottom=bottom, label=label)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    paper = [_plot_value(row.paper_fulfilment_hours) for row in rows]
    axes.scatter(positions, paper, marker="D", color="black", zorder=3, label="paper T_f")
    axes.set_xticks(positions, labels, fontsize=7)
    axes.set_ylabel("simulated hours")
    axes.set_title(PLOT_TITLES["fulfilment"])
    axes.legend()


def _satisfaction_plot(axes: Any, tables: Tables) -> None:
    rows = tables.satisfaction
    labels = [f"{row.order_type}\n{row.mode}" for row in rows]
    positions = list(range(len(rows)))
    axes.bar(positions, [row.satisfaction or 0.0 for row in rows], label="ours")
    paper = [_plot_value(row.paper_satisfaction) for row in rows]
    axes.scatter(positions, paper, marker="D", color="black", zorder=3, label="paper")
    axes.set_xticks(positions, labels, fontsize=7)
    axes.set_ylim(0, 5.2)
    axes.set_ylabel("mean rating (1-5)")
    axes.set_title(PLOT_TITLES["satisfaction"])
    axes.legend()
