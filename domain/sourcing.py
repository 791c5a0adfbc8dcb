"""Choosing the fulfilment centre that serves an order."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from domain.geo import great_circle_km
from domain.network import FulfilmentCentre, Network
from domain.orders import Destination, Mode, OrderLine

StockLevels = Mapping[tuple[str, str], int]


@dataclass(frozen=True, slots=True)
class Candidate:
    centre: FulfilmentCentre
    distance_km: float


@dataclass(frozen=True, slots=True)
class Shortage:
    sku: str
    requested: int
    available: int


def eligible_centres(network: Network, mode: Mode) -> tuple[FulfilmentCentre, ...]:
    if mode is Mode.CENTRALIZED:
        return (network.central(),)
    return network.regional()


def rank_candidates(
    network: Network,
    mode: Mode,
    destination: Destination,
    lines: Sequence[OrderLine],
    stock: StockLevels,
) -> list[Candidate]:
    wanted = _requested(lines)
    candidates = [
        Candidate(fc, great_circle_km(fc.lat, fc.lon, destination.lat, destination.lon))
        for fc in eligible_centres(network, mode)
        if all(_available(stock, fc, sku) >= qty for sku, qty in wanted.items())
    ]
    return sorted(candidates, key=lambda c: (c.distance_km, c.centre.id))


def shortages(
    network: Network, mode: Mode, lines: Sequence[OrderLine], stock: StockLevels
) -> list[Shortage]:
    centres = eligible_centres(network, mode)
    short = []
    for sku, qty in _requested(lines).items():
        most = max(_available(stock, fc, sku) for fc in centres)
        if most < qty:
            short.append(Shortage(sku, qty, most))
    return short


def unknown_skus(lines: Sequence[OrderLine], known: Collection[str]) -> list[str]:
    return [sku for sku in _requested(lines) if sku not in known]


def _requested(lines: Sequence[OrderLine]) -> dict[str, int]:
    """Total quantity per SKU, in order of first appearance."""
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.sku] = totals.get(line.sku, 0) + line.quantity
    return totals


def _available(stock: StockLevels, fc: FulfilmentCentre, sku: str) -> int:
    return stock.get((fc.id, sku), 0)
