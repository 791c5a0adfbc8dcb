"""`doms sourcing-report`: the three fulfilment modes side by side on the same generated orders.

Each mode sources the same orders (loadtest.orders.OrderGenerator, seeded) one after
another against its own copy of the network's initial stock, and every served order
takes its units away, as real reservations would: popular SKUs run out near the busiest
metros and later orders travel further, split or go unserved. No workflow, no database,
no clock: the sourcing rules alone. Backlogs are zero unless an arrival rate is given;
then each centre's queue grows by one order per parcel and drains at its capacity.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.network_spec import NetworkSpec
from domain.orders import Destination, Mode, OrderLine, OrderType
from domain.sourcing import SourcingDecision, source
from doms.bench import positive_int, progress_points
from doms.network_file import NetworkFileError, load_network_spec
from doms.settings import Settings
from loadtest.orders import OrderGenerator

Report = Callable[[str], None]


@dataclass
class ModeFigures:
    """Running totals of one mode; the means are over served orders."""

    mode: Mode
    orders: int = 0
    served: int = 0
    parcels: int = 0
    split_orders: int = 0
    parcel_km: float = 0.0
    promised: dict[OrderType, list[float]] = field(
        default_factory=lambda: {kind: [] for kind in OrderType}
    )

    def add(self, order_type: OrderType, decision: SourcingDecision) -> None:
        self.orders += 1
        if decision.promised_hours is None:
            return
        self.served += 1
        self.parcels += len(decision.parcels)
        self.split_orders += int(decision.splits > 0)
        self.parcel_km += sum(parcel.distance_km for parcel in decision.parcels)
        self.promised[order_type].append(decision.promised_hours)

    def row(self) -> list[str]:
        served = max(self.served, 1)
        promises = [
            f"{sum(hours) / len(hours):.1f}" if hours else "-" for hours in self.promised.values()
        ]
        return [
            self.mode.value,
            f"{self.orders}",
            f"{self.served * 100 / max(self.orders, 1):.1f}",
            f"{self.parcel_km / max(self.parcels, 1):,.0f}",
            f"{self.split_orders * 100 / served:.1f}",
            f"{self.parcels / served:.2f}",
            *promises,
        ]


@dataclass(frozen=True)
class SourcingReport:
    orders: int
    seed: int
    deplete: bool
    orders_per_hour: float | None
    modes: tuple[ModeFigures, ...]

    def as_table(self) -> str:
        header = [
            "mode",
            "orders",
            "served %",
            "km/parcel",
            "split %",
            "parcels",
            *(f"{kind} h" for kind in OrderType),
        ]
        rows = [header, *(figures.row() for figures in self.modes)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = [_aligned(row, widths) for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        stock = (
            "taken by each served order" if self.deplete else "the initial stock for every order"
        )
        load = "none (backlog 0)"
        if self.orders_per_hour:
            load = f"{self.orders_per_hour:g} orders per simulated hour"
        notes = [
            f"{self.orders} generated orders (seed {self.seed}); stock: {stock}; load: {load}.",
            "km/parcel: great-circle km per parcel shipped; split %: served orders in more",
            "than one parcel; parcels: per served order; <type> h: mean promised hours.",
        ]
        return "\n".join([*lines, "", *notes])


def _aligned(row: list[str], widths: list[int]) -> str:
    """The first column to the left, the figures to the right."""
    cells = [
        row[0].ljust(widths[0]),
        *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)),
    ]
    return "  ".join(cells)


def run(
    spec: NetworkSpec,
    orders: int = 10_000,
    seed: int = 42,
    *,
    deplete: bool = True,
    orders_per_hour: float | None = None,
    report: Report | None = None,
) -> SourcingReport:
    bodies = _orders(orders, seed)
    figures = tuple(
        _run_mode(spec, mode, bodies, deplete, orders_per_hour, report) for mode in Mode
    )
    return SourcingReport(orders, seed, deplete, orders_per_hour, figures)


@dataclass(frozen=True)
class _Order:
    order_type: OrderType
    destination: Destination
    lines: tuple[OrderLine, ...]


def _orders(count: int, seed: int) -> list[_Order]:
    generator = OrderGenerator(seed)
    return [_order(generator.next_order()) for _ in range(count)]


def _order(body: Mapping[str, Any]) -> _Order:
    return _Order(
        OrderType(body["order_type"]),
        Destination(**body["destination"]),
        tuple(OrderLine(line["sku"], line["quantity"]) for line in body["lines"]),
    )


def _run_mode(
    spec: NetworkSpec,
    mode: Mode,
    orders: list[_Order],
    deplete: bool,
    orders_per_hour: float | None,
    report: Report | None,
) -> ModeFigures:
    figures = ModeFigures(mode)
    stock = dict(spec.initial_stock)
    queues = _Queues(spec, orders_per_hour)
    report_after = progress_points(len(orders))
    for done, order in enumerate(orders, start=1):
        decision = source(
            spec, mode, order.order_type, order.destination, order.lines, stock, queues.backlog()
        )
        figures.add(order.order_type, decision)
        for parcel in decision.parcels:
            queues.add(parcel.centre_id)
            if deplete:
                for line in parcel.lines:
                    stock[(parcel.centre_id, line.sku)] -= line.quantity
        queues.tick()
        if report and done in report_after:
            report(f"{mode.value:<12}{done:>8}/{len(orders)}  {done * 100 // len(orders):>3}%")
    return figures


class _Queues:
    """Each centre's backlog under a steady arrival rate: one order per parcel in, its
    capacity per hour out. Without a rate, every backlog stays at zero."""

    def __init__(self, spec: NetworkSpec, orders_per_hour: float | None) -> None:
        self._capacity = {fc.id: fc.capacity_per_hour for fc in spec.network.centres}
        self._queued = dict.fromkeys(self._capacity, 0.0)
        self._hours_between_orders = 1 / orders_per_hour if orders_per_hour else None

    def backlog(self) -> dict[str, int]:
        return {fc_id: math.ceil(queued) for fc_id, queued in self._queued.items()}

    def add(self, fc_id: str) -> None:
        if self._hours_between_orders is not None:
            self._queued[fc_id] += 1

    def tick(self) -> None:
        if self._hours_between_orders is None:
            return
        for fc_id, capacity in self._capacity.items():
            drained = capacity * self._hours_between_orders
            self._queued[fc_id] = max(0.0, self._queued[fc_id] - drained)


def run_report(settings: Settings, args: argparse.Namespace) -> int:
    try:
        spec = load_network_spec(settings.network_file)
    except NetworkFileError as error:
        print(f"doms sourcing-report: {error}", file=sys.stderr)
        return 2
    source_name = settings.network_file or "the default network"
    print(f"sourcing report: {args.orders} orders (seed {args.seed}) on {source_name}")
    result = run(
        spec,
        args.orders,
        args.seed,
        deplete=not args.no_depletion,
        orders_per_hour=args.orders_per_hour,
        report=lambda line: print(line, flush=True),
    )
    print()
    print(result.as_table())
    return 0


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--orders", type=positive_int, default=10_000, help="how many (default 10000)"
    )
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated orders")
    parser.add_argument(
        "--no-depletion",
        action="store_true",
        help="source every order against the initial stock (default: served orders take it)",
    )
    parser.add_argument(
        "--orders-per-hour",
        type=positive_float,
        metavar="RATE",
        help="arrival rate in orders per simulated hour; backlogs then grow and drain at "
        "each centre's capacity (default: no load, every backlog 0)",
    )
