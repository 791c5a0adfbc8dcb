"""Sourcing: which fulfilment centres ship an order, and why.

The rules, in order:
1. one parcel beats any split: a single centre that holds the whole order wins;
2. otherwise the fewest parcels, each SKU's total quantity coming wholly from one centre
   (at most `max_parcels`; every combination of that size is tried, so the answer is
   optimal, and the search stays small by skipping centres that add no SKU);
3. among equals, the least total distance, compared to the kilometre;
4. then the lowest load: the busiest chosen centre's backlog over its capacity;
5. then the earliest expected delivery (the slowest parcel's handling plus transit);
6. then centre ids, so equal inputs always give the same plan.

Modes decide who may ship: centralized, the central centre alone; distributed, the
regional centres serving the destination's market; hybrid, those regional centres
first, exactly as distributed, and only when they cannot ship the order within
`max_parcels` the same search again with the central centre added. The central centre
usually holds the whole order and then ships it alone; when it does not, the search
pairs it with regional centres, because a served order beats a refused one.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domain.capacity import backlog_hours, handling_hours
from domain.geo import great_circle_km
from domain.network import FulfilmentCentre, Network, market_of
from domain.network_spec import NetworkSpec
from domain.orders import Destination, Mode, OrderLine, OrderType
from domain.service_levels import ServiceLevel, promised_hours, transit_hours
from domain.timings import reported

StockLevels = Mapping[tuple[str, str], int]
DEFAULT_MAX_PARCELS = 3


@dataclass(frozen=True, slots=True)
class Shortage:
    sku: str
    requested: int
    available: int  # the most any single eligible centre holds


@dataclass(frozen=True, slots=True)
class Parcel:
    centre_id: str
    lines: tuple[OrderLine, ...]  # one line per SKU, quantities of repeated SKUs summed
    distance_km: float
    handling_hours: float
    transit_hours: float

    @property
    def hours(self) -> float:
        """Expected hours from allocation to delivery."""
        return self.handling_hours + self.transit_hours


@dataclass(frozen=True, slots=True)
class CandidateNote:
    centre_id: str
    distance_km: float
    lines_coverable: int  # SKUs of the order the centre holds in full
    backlog: int
    chosen: bool


@dataclass(frozen=True, slots=True)
class SourcingDecision:
    parcels: tuple[Parcel, ...]  # empty when the order cannot be served now
    promised_hours: float | None
    reason: str
    considered: tuple[CandidateNote, ...]
    shortages: tuple[Shortage, ...]

    @property
    def served(self) -> bool:
        return bool(self.parcels)

    @property
    def splits(self) -> int:
        return max(0, len(self.parcels) - 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "served": self.served,
            "promised_hours": self.promised_hours,
            "reason": self.reason,
            "splits": self.splits,
            "parcels": [
                {
                    "fulfilment_centre": p.centre_id,
                    "lines": [{"sku": line.sku, "quantity": line.quantity} for line in p.lines],
                    "distance_km": round(p.distance_km, 1),
                    "handling_hours": reported(p.handling_hours),
                    "transit_hours": reported(p.transit_hours),
                }
                for p in self.parcels
            ],
            "considered": [
                {
                    "fulfilment_centre": c.centre_id,
                    "distance_km": round(c.distance_km, 1),
                    "lines_coverable": c.lines_coverable,
                    "backlog": c.backlog,
                    "chosen": c.chosen,
                }
                for c in self.considered
            ],
            "shortages": [
                {"sku": s.sku, "requested": s.requested, "available": s.available}
                for s in self.shortages
            ],
        }


def eligible_centres(
    network: Network, mode: Mode, destination: Destination
) -> tuple[FulfilmentCentre, ...]:
    """Who may ship to this destination in this mode; the central centre comes last."""
    if mode is Mode.CENTRALIZED:
        return (network.central(),)
    market = market_of(destination.country)
    regional = tuple(fc for fc in network.regional() if fc.serves(market))
    return (*regional, network.central()) if mode is Mode.HYBRID else regional


def unknown_skus(lines: Sequence[OrderLine], known: Collection[str]) -> list[str]:
    return [sku for sku in _requested(lines) if sku not in known]


def source(
    spec: NetworkSpec,
    mode: Mode,
    order_type: OrderType,
    destination: Destination,
    lines: Sequence[OrderLine],
    stock: StockLevels,
    backlog: Mapping[str, int],
    max_parcels: int = DEFAULT_MAX_PARCELS,
) -> SourcingDecision:
    """The plan that ships the order by the rules above, or why there is none."""
    if max_parcels < 1:
        raise ValueError(f"max_parcels must be at least 1, got {max_parcels}")
    wanted = _requested(lines)
    if not wanted:
        raise ValueError("an order needs at least one line")
    level = spec.service_levels[order_type]
    centres = eligible_centres(spec.network, mode, destination)
    options = sorted(
        (_option(fc, order_type, destination, wanted, stock, backlog, level) for fc in centres),
        key=lambda o: (o.distance_km, o.centre.id),
    )
    everything = (1 << len(wanted)) - 1
    prefix = ""
    if mode is Mode.HYBRID:
        regional = [o for o in options if not o.centre.central]
        if best := _best_two(regional, everything, max_parcels):
            return _decision(best, regional, wanted, level, prefix)
        prefix = (
            f"No regional centres can ship the order in {max_parcels} parcels or fewer, "
            "so the central centre helps. "
        )
    if best := _best_two(options, everything, max_parcels):
        return _decision(best, options, wanted, level, prefix)
    return _refusal(options, wanted, stock, max_parcels)


@dataclass(frozen=True, slots=True)
class _Option:
    """One eligible centre, seen from this order."""

    centre: FulfilmentCentre
    distance_km: float
    covers: int  # bit i set: the centre holds the order's i-th SKU in full
    backlog: int
    load_hours: float
    handling_hours: float
    transit_hours: float

    @property
    def hours(self) -> float:
        return self.handling_hours + self.transit_hours


_Plan = tuple[_Option, ...]
_Key = tuple[int, float, float, tuple[str, ...]]


def _option(
    fc: FulfilmentCentre,
    order_type: OrderType,
    destination: Destination,
    wanted: Mapping[str, int],
    stock: StockLevels,
    backlog: Mapping[str, int],
    level: ServiceLevel,
) -> _Option:
    distance = great_circle_km(fc.lat, fc.lon, destination.lat, destination.lon)
    covers = 0
    for bit, (sku, quantity) in enumerate(wanted.items()):
        if stock.get((fc.id, sku), 0) >= quantity:
            covers |= 1 << bit
    queued = backlog.get(fc.id, 0)
    return _Option(
        fc,
        distance,
        covers,
        queued,
        backlog_hours(fc, queued),
        handling_hours(fc, order_type, queued),
        transit_hours(level, distance),
    )


def _best_two(options: Sequence[_Option], everything: int, max_parcels: int) -> list[_Plan]:
    """The best and the runner-up among the smallest sets of centres holding every SKU."""
    useful = [o for o in options if o.covers]
    reach = [0] * (len(useful) + 1)  # reach[i]: every SKU that useful[i:] hold together
    for i in range(len(useful) - 1, -1, -1):
        reach[i] = reach[i + 1] | useful[i].covers
    for size in range(1, max_parcels + 1):
        plans = _covers(useful, reach, everything, size, 0, 0, ())
        if best := heapq.nsmallest(2, plans, key=_key):
            return best
    return []


def _covers(
    options: Sequence[_Option],
    reach: Sequence[int],
    everything: int,
    size: int,
    start: int,
    covered: int,
    chosen: _Plan,
) -> Iterator[_Plan]:
    """Every set of `size` centres from options[start:] that completes `chosen`.

    A centre adding no SKU to those chosen before it is skipped: that set minus the
    centre would be a smaller one, already tried and found wanting.
    """
    if len(chosen) == size - 1:
        missing = everything & ~covered
        for option in options[start:]:
            if option.covers & missing == missing:
                yield (*chosen, option)
        return
    for i in range(start, len(options)):
        if covered | reach[i] != everything:
            return
        option = options[i]
        if option.covers & ~covered:
            yield from _covers(
                options, reach, everything, size, i + 1, covered | option.covers, (*chosen, option)
            )


def _key(plan: _Plan) -> _Key:
    return (
        round(sum(o.distance_km for o in plan)),
        max(o.load_hours for o in plan),
        max(o.hours for o in plan),
        tuple(sorted(o.centre.id for o in plan)),
    )


def _decision(
    best: list[_Plan],
    considered: Sequence[_Option],
    wanted: Mapping[str, int],
    level: ServiceLevel,
    prefix: str,
) -> SourcingDecision:
    plan = best[0]
    parcels = _parcels(plan, wanted)
    slowest = max(parcels, key=lambda p: p.hours)
    chosen = {o.centre.id for o in plan}
    return SourcingDecision(
        parcels=parcels,
        promised_hours=promised_hours(slowest.handling_hours, slowest.transit_hours, level),
        reason=_why(plan, best[1] if len(best) > 1 else None, prefix),
        considered=_notes(considered, chosen),
        shortages=(),
    )


def _parcels(plan: _Plan, wanted: Mapping[str, int]) -> tuple[Parcel, ...]:
    """Each SKU from the nearest chosen centre holding it; every centre gets some, or the
    plan would not be one of the smallest."""
    lines: dict[str, list[OrderLine]] = {o.centre.id: [] for o in plan}
    for bit, (sku, quantity) in enumerate(wanted.items()):
        holder = next(o for o in plan if o.covers >> bit & 1)
        lines[holder.centre.id].append(OrderLine(sku, quantity))
    return tuple(
        Parcel(
            o.centre.id, tuple(lines[o.centre.id]), o.distance_km, o.handling_hours, o.transit_hours
        )
        for o in plan
    )


def _refusal(
    options: Sequence[_Option], wanted: Mapping[str, int], stock: StockLevels, max_parcels: int
) -> SourcingDecision:
    short = tuple(
        Shortage(sku, quantity, most)
        for sku, quantity in wanted.items()
        if (most := max((stock.get((o.centre.id, sku), 0) for o in options), default=0)) < quantity
    )
    if short:
        skus = ", ".join(s.sku for s in short)
        reason = f"Out of stock: no eligible centre holds enough of {skus} on its own."
    else:
        reason = (
            f"Every SKU is in stock somewhere, but shipping the order would take more than "
            f"{max_parcels} parcels."
        )
    return SourcingDecision((), None, reason, _notes(options, set()), short)


def _notes(options: Sequence[_Option], chosen: Collection[str]) -> tuple[CandidateNote, ...]:
    return tuple(
        CandidateNote(
            o.centre.id, o.distance_km, o.covers.bit_count(), o.backlog, o.centre.id in chosen
        )
        for o in options
    )


def _why(plan: _Plan, runner_up: _Plan | None, prefix: str) -> str:
    names = " + ".join(o.centre.id for o in plan)
    km = _key(plan)[0]
    if len(plan) == 1:
        what = f"Whole order from {names}, {km:,} km away"
    else:
        what = (
            f"No single centre holds the whole order; {len(plan)} parcels is the fewest: "
            f"{names}, {km:,} km in total"
        )
    return prefix + what + _edge(plan, runner_up) + "."


def _edge(plan: _Plan, runner_up: _Plan | None) -> str:
    """What put the plan ahead of the next best one of the same size."""
    if runner_up is None:
        return ", the only choice"
    mine, theirs = _key(plan), _key(runner_up)
    other = " + ".join(o.centre.id for o in runner_up)
    if mine[0] != theirs[0]:
        return f", the least distance (next: {other}, {theirs[0]:,} km)"
    if mine[1] != theirs[1]:
        hours = f"{theirs[1]:.1f} against {mine[1]:.1f} hours of backlog"
        return f"; {other} is as near but busier ({hours})"
    if mine[2] != theirs[2]:
        return f"; {other} is as near and as busy but would deliver later"
    return f"; {other} ties on distance, backlog and delivery, and comes later by id"


def _requested(lines: Sequence[OrderLine]) -> dict[str, int]:
    """Total quantity per SKU, in order of first appearance."""
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.sku] = totals.get(line.sku, 0) + line.quantity
    return totals
