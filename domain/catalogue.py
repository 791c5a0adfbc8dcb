"""The SKUs we sell and the stock each centre starts with."""

from __future__ import annotations

from collections.abc import Sequence

from domain.network import Network

DEFAULT_SKU_COUNT = 100
DEFAULT_REGIONAL_STOCK = 500


def sku_code(n: int) -> str:
    if n < 1:
        raise ValueError(f"SKU numbers start at 1, got {n}")
    return f"SKU-{n:04d}"


def default_skus(count: int = DEFAULT_SKU_COUNT) -> tuple[str, ...]:
    return tuple(sku_code(n) for n in range(1, count + 1))


def initial_stock(
    network: Network, skus: Sequence[str], per_regional: int = DEFAULT_REGIONAL_STOCK
) -> dict[tuple[str, str], int]:
    if per_regional < 0:
        raise ValueError(f"stock cannot be negative, got {per_regional}")
    regional = network.regional()
    # The central centre holds what all regional centres hold together, so that
    # centralized and distributed runs are compared on the same total stock.
    per_centre = {fc.id: per_regional for fc in regional}
    per_centre[network.central().id] = per_regional * len(regional)
    return {(fc_id, sku): units for fc_id, units in per_centre.items() for sku in skus}
