"""The SKUs we sell, which of them each centre carries, and the stock it starts with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from domain.checks import Rule, between
from domain.network import FulfilmentCentre, Market, Network

DEFAULT_SKU_COUNT = 100
DEFAULT_REGIONAL_STOCK = 500
MAX_SKU_COUNT = 9999  # SKU codes have four digits


def sku_code(n: int) -> str:
    if n < 1:
        raise ValueError(f"SKU numbers start at 1, got {n}")
    return f"SKU-{n:04d}"


def default_skus(count: int = DEFAULT_SKU_COUNT) -> tuple[str, ...]:
    return tuple(sku_code(n) for n in range(1, count + 1))


def assortment_rules(sku_count: int | None, centres: int | None) -> Mapping[str, Rule]:
    """The bounds of a market's rule, shared with the network-file parser: `everywhere`
    within the catalogue of `sku_count` SKUs, `long_tail_copies` from one to the
    `centres` regional centres of the market. An unknown count leaves that bound open."""
    return {
        "everywhere": between(0, MAX_SKU_COUNT if sku_count is None else sku_count),
        "long_tail_copies": between(1, MAX_SKU_COUNT if centres is None else centres),
    }


@dataclass(frozen=True, slots=True)
class AssortmentRule:
    """Which SKUs the regional centres serving one market carry.

    The first `everywhere` SKUs of the catalogue (the fast movers: the load generator's
    popularity falls with the SKU number) are carried by every one of them. Each later
    SKU, the long tail, is carried by `long_tail_copies` of them, dealt round-robin like
    cards: the market's regional centres in network order, `long_tail_copies` at a time,
    each SKU starting where the one before stopped. With six centres and two copies the
    first tail SKU goes to the 1st and 2nd centre, the next to the 3rd and 4th, ... so
    every centre carries the same share of the tail, give or take one SKU.
    """

    everywhere: int
    long_tail_copies: int

    def __post_init__(self) -> None:
        problems = [
            f"{name}: {problem}"
            for name, rule in assortment_rules(None, None).items()
            if (problem := rule(getattr(self, name)))
        ]
        if problems:
            raise ValueError(f"assortment rule: {'; '.join(problems)}")


# A market without a rule carries the full catalogue at each of its regional centres.
Assortment = Mapping[Market, AssortmentRule]
# The default network: the 51 most popular SKUs (87% of the lines the load generator
# orders) at all six US regional centres, every other one at two of them; the gateways
# carry the full range (doms/networks/default.toml says why).
DEFAULT_ASSORTMENT: Assortment = MappingProxyType(
    {Market.DOMESTIC: AssortmentRule(everywhere=51, long_tail_copies=2)}
)


def market_centres(network: Network, market: Market) -> tuple[FulfilmentCentre, ...]:
    """The regional centres serving `market`, in network order: the round-robin's table."""
    return tuple(fc for fc in network.regional() if fc.serves(market))


def carried_skus(
    network: Network, skus: Sequence[str], assortment: Assortment | None = None
) -> dict[str, frozenset[str]]:
    """The SKUs each regional centre carries. A centre serving several markets carries
    what any of them gives it; a market without a rule gives it the full catalogue."""
    assortment = assortment or {}
    carried: dict[str, set[str]] = {fc.id: set() for fc in network.regional()}
    problems: list[str] = []
    for market, given in assortment.items():
        bounds = assortment_rules(len(skus), len(market_centres(network, market)))
        problems += [
            f"{market}.{name}: {problem}"
            for name, check in bounds.items()
            if (problem := check(getattr(given, name)))
        ]
    if problems:
        raise ValueError(f"assortment: {'; '.join(problems)}")
    for market in Market:
        pool = market_centres(network, market)
        rule = assortment.get(market)
        if rule is None:
            for fc in pool:
                carried[fc.id].update(skus)
            continue
        for fc in pool:
            carried[fc.id].update(skus[: rule.everywhere])
        copies = rule.long_tail_copies
        for i, sku in enumerate(skus[rule.everywhere :]):
            for j in range(copies):
                carried[pool[(i * copies + j) % len(pool)].id].add(sku)
    return {fc_id: frozenset(held) for fc_id, held in carried.items()}


def initial_stock(
    network: Network,
    skus: Sequence[str],
    per_regional: int = DEFAULT_REGIONAL_STOCK,
    per_centre: Mapping[str, int] | None = None,
    assortment: Assortment | None = None,
) -> dict[tuple[str, str], int]:
    """Units of every SKU at every centre. A regional centre holds `per_regional` units
    (or the figure `per_centre` names for it) of each SKU it carries under `assortment`
    (every SKU when None) and 0 of the others; the central centre holds their sum.

    Every (centre, SKU) pair is listed, carried or not, so a receipt can start a centre
    on a SKU it does not yet carry and the inventory shows the 0.
    """
    per_centre = per_centre or {}
    regional = network.regional()
    if strangers := sorted(set(per_centre) - {fc.id for fc in regional}):
        raise ValueError(f"per-centre stock is for regional centres only, got {strangers}")
    units = {fc.id: per_centre.get(fc.id, per_regional) for fc in regional}
    if negative := sorted(fc_id for fc_id, n in units.items() if n < 0):
        raise ValueError(f"stock cannot be negative, got {negative}")
    carried = carried_skus(network, skus, assortment)
    stock = {
        (fc_id, sku): n if sku in carried[fc_id] else 0
        for fc_id, n in units.items()
        for sku in skus
    }
    # The central centre holds what all regional centres hold together, SKU by SKU, so
    # that centralized and distributed runs are compared on the same total stock; a SKU
    # no regional centre carries is not carried there either.
    hub = network.central().id
    for sku in skus:
        stock[(hub, sku)] = sum(stock[(fc.id, sku)] for fc in regional)
    return stock
