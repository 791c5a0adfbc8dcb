"""The fulfilment network: one central centre and the regional ones around it.

Each centre picks orders at its own capacity, handles each order type in its own time,
and serves one or both markets: domestic (destinations in the home country) and
international (anywhere else). In the default network the six US regional centres ship
domestically, three gateway centres ship abroad, and the central centre ships everywhere.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

from domain.checks import Rule, between, known_country, non_negative, positive
from domain.countries import HOME_COUNTRY
from domain.orders import OrderType

_CENTRE_ID = re.compile(r"[a-z0-9-]+")


class Market(StrEnum):
    DOMESTIC = "domestic"  # destinations in the home country
    INTERNATIONAL = "international"  # destinations anywhere else


ALL_MARKETS: frozenset[Market] = frozenset(Market)
DEFAULT_CAPACITY_PER_HOUR = 40.0
# Our model's assumptions: expedited orders jump the pick queue, international ones
# also need export paperwork.
DEFAULT_HANDLING_HOURS: Mapping[OrderType, float] = MappingProxyType(
    {OrderType.STANDARD: 1.0, OrderType.EXPEDITED: 0.5, OrderType.INTERNATIONAL: 1.5}
)
# Per-field rules, shared with the network-file parser.
CENTRE_RULES: Mapping[str, Rule] = MappingProxyType(
    {"lat": between(-90, 90), "lon": between(-180, 180), "capacity_per_hour": positive}
)


def market_of(country: str) -> Market:
    return Market.DOMESTIC if country == HOME_COUNTRY else Market.INTERNATIONAL


def task_queue_of(fc_id: str) -> str:
    """The Temporal task queue on which this FC's pick/pack/ship work runs."""
    return f"fc-{fc_id}"


@dataclass(frozen=True, slots=True)
class FulfilmentCentre:
    id: str
    name: str
    region: str
    country: str
    lat: float
    lon: float
    central: bool = False
    capacity_per_hour: float = DEFAULT_CAPACITY_PER_HOUR  # orders picked per simulated hour
    handling_hours: Mapping[OrderType, float] = field(
        default_factory=lambda: DEFAULT_HANDLING_HOURS, hash=False
    )
    markets: frozenset[Market] = ALL_MARKETS

    def __post_init__(self) -> None:
        object.__setattr__(self, "handling_hours", MappingProxyType(dict(self.handling_hours)))
        if problems := centre_problems(self):
            raise ValueError(f"fulfilment centre {self.id!r}: {'; '.join(problems)}")

    @property
    def task_queue(self) -> str:
        return task_queue_of(self.id)

    def serves(self, market: Market) -> bool:
        return market in self.markets


def centre_problems(fc: FulfilmentCentre) -> list[str]:
    problems = [
        f"{name}: {problem}"
        for name, rule in CENTRE_RULES.items()
        if (problem := rule(getattr(fc, name)))
    ]
    if problem := known_country(fc.country):
        problems.append(f"country: {problem}")
    if missing := [kind.value for kind in OrderType if kind not in fc.handling_hours]:
        problems.append(f"handling_hours: missing {', '.join(missing)}")
    problems += [
        f"handling_hours.{kind}: {problem}"
        for kind, hours in fc.handling_hours.items()
        if (problem := non_negative(hours))
    ]
    if not fc.markets:
        problems.append("markets: must name at least one market")
    return problems


class CentreShape(Protocol):
    """What the network-wide rules look at; the file parser checks them on partial centres."""

    @property
    def id(self) -> str: ...
    @property
    def central(self) -> bool: ...
    @property
    def markets(self) -> frozenset[Market]: ...


def network_problems(centres: Sequence[CentreShape]) -> list[str]:
    problems: list[str] = []
    ids = [fc.id for fc in centres]
    if malformed := [fc_id for fc_id in ids if not _CENTRE_ID.fullmatch(fc_id)]:
        problems.append(f"centre ids must match [a-z0-9-]+: {malformed}")
    if repeated := sorted(fc_id for fc_id, n in Counter(ids).items() if n > 1):
        problems.append(f"centre ids must be unique: {repeated} repeated")
    centrals = [fc for fc in centres if fc.central]
    if len(centrals) != 1:
        found = [fc.id for fc in centrals]
        problems.append(f"a network needs exactly one central centre, got {found}")
    for hub in centrals:
        if lacking := sorted(m.value for m in ALL_MARKETS - hub.markets):
            problems.append(f"the central centre {hub.id!r} must serve every market: {lacking}")
    regional = [fc for fc in centres if not fc.central]
    if not regional:
        problems.append("a network needs at least one regional centre")
    elif unserved := [m.value for m in Market if not any(m in fc.markets for fc in regional)]:
        problems.append(f"no regional centre serves the {' or '.join(unserved)} market")
    return problems


@dataclass(frozen=True, slots=True)
class Network:
    centres: tuple[FulfilmentCentre, ...]

    def __post_init__(self) -> None:
        if problems := network_problems(self.centres):
            raise ValueError("; ".join(problems))

    def regional(self) -> tuple[FulfilmentCentre, ...]:
        return tuple(fc for fc in self.centres if not fc.central)

    def central(self) -> FulfilmentCentre:
        return next(fc for fc in self.centres if fc.central)

    def get(self, fc_id: str) -> FulfilmentCentre:
        for fc in self.centres:
            if fc.id == fc_id:
                return fc
        raise KeyError(f"no fulfilment centre {fc_id!r}; known: {', '.join(self.ids())}")

    def ids(self) -> tuple[str, ...]:
        return tuple(fc.id for fc in self.centres)


_DOMESTIC = frozenset({Market.DOMESTIC})
_INTERNATIONAL = frozenset({Market.INTERNATIONAL})
# id, name, region, country, lat, lon; orders picked per simulated hour; markets served
_REGIONAL: tuple[tuple[str, str, str, str, float, float, float, frozenset[Market]], ...] = (
    ("sea", "Seattle WA", "west", "US", 47.6062, -122.3321, 15.0, _DOMESTIC),
    ("oak", "Oakland CA", "west", "US", 37.8044, -122.2712, 55.0, _DOMESTIC),
    ("dfw", "Dallas TX", "south", "US", 32.7767, -96.7970, 35.0, _DOMESTIC),
    ("ord", "Chicago IL", "midwest", "US", 41.8781, -87.6298, 35.0, _DOMESTIC),
    ("atl", "Atlanta GA", "southeast", "US", 33.7490, -84.3880, 30.0, _DOMESTIC),
    ("ewr", "Newark NJ", "northeast", "US", 40.7357, -74.1724, 70.0, _DOMESTIC),
    ("mia", "Miami FL", "americas", "US", 25.7959, -80.2870, 10.0, _INTERNATIONAL),
    ("ams", "Amsterdam NL", "europe", "NL", 52.3105, 4.7683, 10.0, _INTERNATIONAL),
    ("sin", "Singapore SG", "asia-pacific", "SG", 1.3644, 103.9915, 8.0, _INTERNATIONAL),
)
# doms/networks/default.toml describes this same network with the reasons for each
# figure; tests/unit/test_network_file.py fails if the two drift apart.
DEFAULT_NETWORK = Network(
    centres=(
        *(
            FulfilmentCentre(
                fc_id, name, region, country, lat, lon, capacity_per_hour=capacity, markets=markets
            )
            for fc_id, name, region, country, lat, lon, capacity, markets in _REGIONAL
        ),
        FulfilmentCentre("mci", "Kansas City MO", "central", "US", 39.0997, -94.5786, True, 150.0),
    )
)
