"""The SKUs we sell and the stock each centre starts with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from domain.network import Network

DEFAULT_SKU_COUNT = 100
DEFAULT_REGIONAL_STOCK = 500
MAX_SKU_COUNT = 9999  # SKU codes have four digits


def sku_code(n: int) -> str:
    if n < 1:
        raise ValueError(f"SKU numbers start at 1, got {n}")
    return f"SKU-{n:04d}"


def default_skus(count: int = DEFAULT_SKU_COUNT) -> tuple[str, ...]:
    return tuple(sku_code(n) for n in range(1, count + 1))


def initial_stock(
    network: Network,
    skus: Sequence[str],
    per_regional: int = DEFAULT_REGIONAL_STOCK,
    per_centre: Mapping[str, int] | None = None,
) -> dict[tuple[str, str], int]:
    """Units of every SKU at every centre: `per_regional` at each regional centre unless
    `per_centre` names another figure for it, and at the central centre their sum."""
    per_centre = per_centre or {}
    regional = network.regional()
    if strangers := sorted(set(per_centre) - {fc.id for fc in regional}):
        raise ValueError(f"per-centre stock is for regional centres only, got {strangers}")
    units = {fc.id: per_centre.get(fc.id, per_regional) for fc in regional}
    if negative := sorted(fc_id for fc_id, n in units.items() if n < 0):
        raise ValueError(f"stock cannot be negative, got {negative}")
    # The central centre holds what all regional centres hold together, so that
    # centralized and distributed runs are compared on the same total stock.
    units[network.central().id] = sum(units.values())
    return {(fc_id, sku): n for fc_id, n in units.items() for sku in skus}
