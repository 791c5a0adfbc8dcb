"""A network description: centres, service levels, catalogue and starting stock.

`parse_network_spec` takes the plain data of a description file (tables, lists, strings,
numbers, as tomllib returns them) and checks all of it before building anything. Every
problem is reported at once with its path, e.g. ``centres[2].lat: must be between -90 and
90``, so a file can be fixed in one pass. The rules on values are the domain's own
(domain/checks.py), the same ones its constructors apply.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from domain.catalogue import (
    DEFAULT_ASSORTMENT,
    DEFAULT_REGIONAL_STOCK,
    MAX_SKU_COUNT,
    AssortmentRule,
    assortment_rules,
    default_skus,
    initial_stock,
)
from domain.checks import Rule, between, known_country, non_negative
from domain.network import (
    ALL_MARKETS,
    CENTRE_RULES,
    DEFAULT_HANDLING_HOURS,
    DEFAULT_NETWORK,
    FulfilmentCentre,
    Market,
    Network,
    network_problems,
)
from domain.orders import OrderType
from domain.service_levels import DEFAULT_SERVICE_LEVELS, SERVICE_LEVEL_RULES, ServiceLevel

_SECTIONS = frozenset({"centres", "service_levels", "catalogue", "stock"})
_CENTRE_REQUIRED = frozenset({"id", "name", "region", "country", "lat", "lon"})
_CENTRE_OPTIONAL = frozenset({"central", "capacity_per_hour", "handling_hours", "markets"})
_ORDER_TYPES = frozenset(kind.value for kind in OrderType)
_MARKETS = frozenset(market.value for market in Market)


@dataclass(frozen=True)
class NetworkSpec:
    network: Network
    service_levels: Mapping[OrderType, ServiceLevel]
    skus: tuple[str, ...]
    initial_stock: Mapping[tuple[str, str], int]  # (centre id, SKU) -> units


class NetworkSpecError(ValueError):
    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid network description:\n" + "\n".join(self.problems))


def default_network_spec() -> NetworkSpec:
    """The built-in network; doms/networks/default.toml describes the same one."""
    skus = default_skus()
    return NetworkSpec(
        DEFAULT_NETWORK,
        DEFAULT_SERVICE_LEVELS,
        skus,
        MappingProxyType(
            initial_stock(
                DEFAULT_NETWORK, skus, DEFAULT_REGIONAL_STOCK, assortment=DEFAULT_ASSORTMENT
            )
        ),
    )


def parse_network_spec(data: Mapping[str, Any]) -> NetworkSpec:
    problems = _Problems()
    if not _keys(data, "", _SECTIONS, frozenset(), problems):
        raise NetworkSpecError(problems)
    sketches: list[_Sketch] = []
    centres = _centres(data.get("centres"), sketches, problems)
    levels = _service_levels(data.get("service_levels"), problems)
    skus = _catalogue(data.get("catalogue"), problems)
    pools = None if centres is None else _pool_sizes(sketches)
    stock = _stock(data.get("stock"), sketches, pools, skus, problems)
    if problems or centres is None or levels is None or skus is None or stock is None:
        raise NetworkSpecError(problems)
    network = Network(centres)
    units = initial_stock(network, skus, stock.per_regional, stock.per_centre, stock.assortment)
    return NetworkSpec(network, levels, skus, MappingProxyType(units))


class _Problems(list[str]):
    def add(self, path: str, message: str) -> None:
        self.append(f"{path}: {message}")


@dataclass(frozen=True)
class _Sketch:
    """The parts of a centre the network-wide rules need, read even if others are wrong."""

    id: str
    central: bool
    markets: frozenset[Market]


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _keys(
    table: object,
    path: str,
    required: frozenset[str],
    optional: frozenset[str],
    problems: _Problems,
) -> bool:
    """Whether `table` is a table; reports its missing and unknown keys."""
    if not isinstance(table, Mapping):
        problems.add(path or "(top level)", f"must be a table, got {_kind(table)}")
        return False
    for key in sorted(required - table.keys()):
        problems.add(_join(path, key), "is required")
    allowed = ", ".join(sorted(required | optional))
    for key in sorted(set(table) - required - optional, key=str):
        problems.add(_join(path, key), f"unknown key (expected one of: {allowed})")
    return True


def _number(value: object, path: str, rule: Rule, problems: _Problems) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add(path, f"must be a number, got {_kind(value)}")
        return None
    if not math.isfinite(value):
        problems.add(path, "must be a finite number")
        return None
    if problem := rule(value):
        problems.add(path, problem)
        return None
    return float(value)


def _whole(value: object, path: str, rule: Rule, problems: _Problems) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(path, f"must be a whole number, got {_kind(value)}")
        return None
    if problem := rule(value):
        problems.add(path, problem)
        return None
    return value


def _anything(value: float) -> None:
    return None


def _text(value: object, path: str, problems: _Problems) -> str | None:
    if not isinstance(value, str) or not value.strip():
        problems.add(path, f"must be a non-empty string, got {_kind(value)}")
        return None
    return value


def _kind(value: object) -> str:
    if isinstance(value, str):
        return f"{value!r}" if value.strip() else "an empty string"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _centres(
    value: object, sketches: list[_Sketch], problems: _Problems
) -> tuple[FulfilmentCentre, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        problems.add(
            "centres", f"must be a non-empty list of tables ([[centres]]), got {_kind(value)}"
        )
        return None
    before = len(problems)
    centres = [_centre(raw, f"centres[{i}]", sketches, problems) for i, raw in enumerate(value)]
    for problem in network_problems(sketches):
        problems.add("centres", problem)
    if len(problems) > before:
        return None
    return tuple(fc for fc in centres if fc is not None)


def _centre(
    raw: object, path: str, sketches: list[_Sketch], problems: _Problems
) -> FulfilmentCentre | None:
    before = len(problems)
    if not _keys(raw, path, _CENTRE_REQUIRED, _CENTRE_OPTIONAL, problems):
        return None
    assert isinstance(raw, Mapping)
    fields: dict[str, Any] = {}
    for name in ("id", "name", "region", "country"):
        if name in raw:
            fields[name] = _text(raw[name], _join(path, name), problems)
    if fields.get("country") and (problem := known_country(fields["country"])):
        problems.add(_join(path, "country"), problem)
    for name, rule in CENTRE_RULES.items():
        if name in raw:
            fields[name] = _number(raw[name], _join(path, name), rule, problems)
    fields["central"] = _flag(raw.get("central", False), _join(path, "central"), problems)
    if "handling_hours" in raw:
        fields["handling_hours"] = _handling(
            raw["handling_hours"], _join(path, "handling_hours"), problems
        )
    if "markets" in raw:
        fields["markets"] = _markets(raw["markets"], _join(path, "markets"), problems)
    markets = fields.get("markets", ALL_MARKETS)
    if fields.get("id") and fields["central"] is not None and markets is not None:
        sketches.append(_Sketch(fields["id"], fields["central"], markets))
    if len(problems) > before:
        return None
    return FulfilmentCentre(**fields)


def _flag(value: object, path: str, problems: _Problems) -> bool | None:
    if not isinstance(value, bool):
        problems.add(path, f"must be true or false, got {_kind(value)}")
        return None
    return value


def _handling(value: object, path: str, problems: _Problems) -> dict[OrderType, float] | None:
    if not _keys(value, path, frozenset(), _ORDER_TYPES, problems):
        return None
    assert isinstance(value, Mapping)
    hours = dict(DEFAULT_HANDLING_HOURS)
    for kind in OrderType:
        if kind.value in value:
            given = _number(value[kind.value], _join(path, kind.value), non_negative, problems)
            if given is not None:
                hours[kind] = given
    return hours


def _markets(value: object, path: str, problems: _Problems) -> frozenset[Market] | None:
    known = ", ".join(m.value for m in Market)
    if not isinstance(value, list) or not value:
        problems.add(path, f"must be a non-empty list of markets ({known}), got {_kind(value)}")
        return None
    unknown = [item for item in value if not (isinstance(item, str) and item in _MARKETS)]
    for item in unknown:
        problems.add(path, f"{_kind(item)} is not a market (expected {known})")
    return None if unknown else frozenset(Market(item) for item in value)


def _service_levels(value: object, problems: _Problems) -> Mapping[OrderType, ServiceLevel] | None:
    if value is None:
        return None
    if not _keys(value, "service_levels", _ORDER_TYPES, frozenset(), problems):
        return None
    assert isinstance(value, Mapping)
    levels: dict[OrderType, ServiceLevel] = {}
    for kind in OrderType:
        if kind.value in value and (level := _service_level(kind, value[kind.value], problems)):
            levels[kind] = level
    return MappingProxyType(levels) if len(levels) == len(OrderType) else None


def _service_level(kind: OrderType, raw: object, problems: _Problems) -> ServiceLevel | None:
    path = f"service_levels.{kind}"
    if not _keys(raw, path, frozenset(SERVICE_LEVEL_RULES), frozenset(), problems):
        return None
    assert isinstance(raw, Mapping)
    values: dict[str, float] = {}
    for name, rule in SERVICE_LEVEL_RULES.items():
        if name not in raw:
            continue
        if (number := _number(raw[name], _join(path, name), rule, problems)) is not None:
            values[name] = number
    if len(values) < len(SERVICE_LEVEL_RULES):
        return None
    return ServiceLevel(kind, **values)


def _catalogue(value: object, problems: _Problems) -> tuple[str, ...] | None:
    if value is None or not _keys(
        value, "catalogue", frozenset({"sku_count"}), frozenset(), problems
    ):
        return None
    assert isinstance(value, Mapping)
    if "sku_count" not in value:
        return None
    count = _whole(value["sku_count"], "catalogue.sku_count", between(1, MAX_SKU_COUNT), problems)
    return None if count is None else default_skus(count)


@dataclass(frozen=True)
class _Stock:
    per_regional: int
    per_centre: dict[str, int]
    assortment: dict[Market, AssortmentRule]


def _pool_sizes(sketches: Sequence[_Sketch]) -> dict[Market, int]:
    """How many regional centres serve each market: the most copies a tail SKU can have."""
    return {
        market: sum(1 for s in sketches if not s.central and market in s.markets)
        for market in Market
    }


def _stock(
    value: object,
    sketches: Sequence[_Sketch],
    pools: Mapping[Market, int] | None,
    skus: Sequence[str] | None,
    problems: _Problems,
) -> _Stock | None:
    required, optional = frozenset({"units_per_sku"}), frozenset({"per_centre", "assortment"})
    if value is None or not _keys(value, "stock", required, optional, problems):
        return None
    assert isinstance(value, Mapping)
    before = len(problems)
    per_regional = None
    if "units_per_sku" in value:
        per_regional = _whole(value["units_per_sku"], "stock.units_per_sku", non_negative, problems)
    per_centre = _per_centre(value.get("per_centre", {}), sketches, problems)
    sku_count = None if skus is None else len(skus)
    assortment = _assortment(value.get("assortment", {}), pools, sku_count, problems)
    if per_regional is None or len(problems) > before:
        return None
    return _Stock(per_regional, per_centre, assortment)


def _assortment(
    value: object, pools: Mapping[Market, int] | None, sku_count: int | None, problems: _Problems
) -> dict[Market, AssortmentRule]:
    path = "stock.assortment"
    if not _keys(value, path, frozenset(), _MARKETS, problems):
        return {}
    assert isinstance(value, Mapping)
    rules: dict[Market, AssortmentRule] = {}
    for market in Market:
        if market.value in value:
            centres = None if pools is None else pools[market]
            rule = _assortment_rule(
                value[market.value], _join(path, market.value), market, centres, sku_count, problems
            )
            if rule is not None:
                rules[market] = rule
    return rules


def _assortment_rule(
    raw: object,
    path: str,
    market: Market,
    centres: int | None,
    sku_count: int | None,
    problems: _Problems,
) -> AssortmentRule | None:
    names = frozenset({"everywhere", "long_tail_copies"})
    if not _keys(raw, path, names, frozenset(), problems):
        return None
    assert isinstance(raw, Mapping)
    if centres == 0:  # no regional centre serves the market: reported under centres
        centres = None
    bound = {
        "everywhere": None if sku_count is None else f"the catalogue has {sku_count} SKUs",
        "long_tail_copies": None
        if centres is None
        else f"{centres} regional centre(s) serve the {market} market",
    }
    values: dict[str, int] = {}
    for name, rule in assortment_rules(sku_count, centres).items():
        if name not in raw:
            continue
        item = _join(path, name)
        if (number := _whole(raw[name], item, _anything, problems)) is None:
            continue
        if problem := rule(number):
            problems.add(item, f"{problem} ({bound[name]})" if bound[name] else problem)
        else:
            values[name] = number
    if len(values) < len(names):
        return None
    return AssortmentRule(**values)


def _per_centre(value: object, sketches: Sequence[_Sketch], problems: _Problems) -> dict[str, int]:
    path = "stock.per_centre"
    if not isinstance(value, Mapping):
        problems.add(path, f"must be a table of centre id = units per SKU, got {_kind(value)}")
        return {}
    central = {sketch.id for sketch in sketches if sketch.central}
    known = {sketch.id for sketch in sketches}
    units: dict[str, int] = {}
    for fc_id, raw in value.items():
        item = _join(path, fc_id)
        if fc_id in central:
            problems.add(item, "the central centre always holds the regional centres' sum")
        elif sketches and fc_id not in known:
            problems.add(item, "no such centre")
        elif (n := _whole(raw, item, non_negative, problems)) is not None:
            units[fc_id] = n
    return units
