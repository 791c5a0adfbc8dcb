"""Realistic, reproducible order bodies for POST /orders: who orders what, and where to.

Pure Python: no Locust, no HTTP. The same seed gives the same orders, so a load test
can be re-run with the very same demand.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from domain.catalogue import default_skus
from domain.orders import OrderType

T = TypeVar("T")

DEFAULT_MIX: Mapping[str, float] = {
    OrderType.STANDARD: 0.7,
    OrderType.EXPEDITED: 0.2,
    OrderType.INTERNATIONAL: 0.1,
}
CUSTOMER_COUNT = 10_000
# Most e-commerce orders hold a single item; few hold several.
LINE_COUNT_WEIGHTS: Mapping[int, float] = {1: 0.6, 2: 0.3, 3: 0.1}
QUANTITY_WEIGHTS: Mapping[int, float] = {1: 0.7, 2: 0.2, 3: 0.1}
# Zipf's law with exponent 1: the n-th most popular SKU sells 1/n as much as the first.
ZIPF_EXPONENT = 1.0


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    country: str
    postal_code: str
    lat: float
    lon: float

    def as_destination(self) -> dict[str, Any]:
        return {
            "country": self.country,
            "postal_code": self.postal_code,
            "lat": self.lat,
            "lon": self.lon,
        }


# The 20 most populous US metropolitan statistical areas with their populations in the
# 2020 US Census (rounded to the thousand); coordinates and a postal code of the main city.
US_METROS: tuple[tuple[Place, int], ...] = (
    (Place("New York", "US", "10001", 40.7128, -74.0060), 20_140_000),
    (Place("Los Angeles", "US", "90012", 34.0522, -118.2437), 13_201_000),
    (Place("Chicago", "US", "60601", 41.8781, -87.6298), 9_619_000),
    (Place("Dallas", "US", "75201", 32.7767, -96.7970), 7_637_000),
    (Place("Houston", "US", "77002", 29.7604, -95.3698), 7_122_000),
    (Place("Washington", "US", "20001", 38.9072, -77.0369), 6_385_000),
    (Place("Philadelphia", "US", "19103", 39.9526, -75.1652), 6_245_000),
    (Place("Miami", "US", "33130", 25.7617, -80.1918), 6_138_000),
    (Place("Atlanta", "US", "30303", 33.7490, -84.3880), 6_090_000),
    (Place("Boston", "US", "02108", 42.3601, -71.0589), 4_942_000),
    (Place("Phoenix", "US", "85004", 33.4484, -112.0740), 4_846_000),
    (Place("San Francisco", "US", "94103", 37.7749, -122.4194), 4_749_000),
    (Place("Riverside", "US", "92501", 33.9806, -117.3755), 4_600_000),
    (Place("Detroit", "US", "48226", 42.3314, -83.0458), 4_392_000),
    (Place("Seattle", "US", "98101", 47.6062, -122.3321), 4_019_000),
    (Place("Minneapolis", "US", "55401", 44.9778, -93.2650), 3_690_000),
    (Place("San Diego", "US", "92101", 32.7157, -117.1611), 3_299_000),
    (Place("Tampa", "US", "33602", 27.9506, -82.4572), 3_175_000),
    (Place("Denver", "US", "80202", 39.7392, -104.9903), 2_964_000),
    (Place("Baltimore", "US", "21201", 39.2904, -76.6122), 2_845_000),
)

# International demand is spread evenly over these cities: we have no sales data by
# country, and weighting by population would hand most of it to a few megacities.
FOREIGN_CITIES: tuple[Place, ...] = (
    Place("Toronto", "CA", "M5H 2N2", 43.6532, -79.3832),
    Place("Mexico City", "MX", "06000", 19.4326, -99.1332),
    Place("London", "GB", "EC1A 1BB", 51.5074, -0.1278),
    Place("Paris", "FR", "75001", 48.8566, 2.3522),
    Place("Berlin", "DE", "10117", 52.5200, 13.4050),
    Place("Tokyo", "JP", "100-0001", 35.6762, 139.6503),
    Place("Sydney", "AU", "2000", -33.8688, 151.2093),
    Place("Sao Paulo", "BR", "01000-000", -23.5505, -46.6333),
)


def parse_mix(text: str) -> dict[str, float]:
    """An order type mix from `standard=0.7,expedited=0.2,international=0.1` (weights,
    need not add up to 1; types left out are not ordered)."""
    mix: dict[str, float] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, sep, weight = part.partition("=")
        if not sep:
            raise ValueError(f"expected type=weight in the order mix, got {part!r}")
        if name.strip() not in set(OrderType):
            raise ValueError(f"unknown order type {name.strip()!r} in the order mix")
        mix[name.strip()] = float(weight)
    if not mix:
        raise ValueError("the order mix names no order type")
    return mix


def zipf_weights(count: int, exponent: float = ZIPF_EXPONENT) -> list[float]:
    """Relative popularity of ranks 1..count: rank n weighs 1 / n**exponent."""
    return [1.0 / rank**exponent for rank in range(1, count + 1)]


def user_seed(base_seed: int, *indexes: int) -> int:
    """A seed for one simulated user, distinct per index and stable across runs and
    processes (unlike `hash`, which Python salts per process)."""
    key = ":".join(str(part) for part in (base_seed, *indexes)).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big")


class WeightedChoice(Generic[T]):
    """Draws from fixed options with fixed weights; the cumulative sums are computed once."""

    def __init__(self, options: Sequence[T], weights: Sequence[float]) -> None:
        if len(options) != len(weights) or not options:
            raise ValueError("need one weight per option and at least one option")
        if any(weight < 0 for weight in weights) or sum(weights) <= 0:
            raise ValueError(f"weights must be non-negative and not all zero: {list(weights)}")
        self._options = list(options)
        self._cumulative = list(itertools.accumulate(weights))

    @classmethod
    def of(cls, weighted: Mapping[T, float]) -> WeightedChoice[T]:
        return cls(list(weighted), list(weighted.values()))

    def draw(self, rng: random.Random) -> T:
        return rng.choices(self._options, cum_weights=self._cumulative)[0]


class OrderGenerator:
    """Order bodies in the shape of POST /orders, their types drawn from `mix` (type → weight)."""

    def __init__(self, seed: int, mix: Mapping[str, float] = DEFAULT_MIX) -> None:
        unknown = set(mix) - set(OrderType)
        if unknown:
            raise ValueError(f"unknown order types in mix: {sorted(unknown)}")
        self._rng = random.Random(seed)
        self._order_type = WeightedChoice.of({OrderType(name): w for name, w in mix.items()})
        self._metro = WeightedChoice.of(dict(US_METROS))
        self._foreign_city = WeightedChoice.of(dict.fromkeys(FOREIGN_CITIES, 1.0))
        skus = default_skus()
        self._sku = WeightedChoice(skus, zipf_weights(len(skus)))
        self._line_count = WeightedChoice.of(LINE_COUNT_WEIGHTS)
        self._quantity = WeightedChoice.of(QUANTITY_WEIGHTS)

    def next_order(self) -> dict[str, Any]:
        order_type = self._order_type.draw(self._rng)
        return {
            "customer_id": f"c-{self._rng.randint(1, CUSTOMER_COUNT)}",
            "order_type": order_type.value,
            "destination": self._destination(order_type).as_destination(),
            "lines": self._lines(),
        }

    def _destination(self, order_type: OrderType) -> Place:
        if order_type is OrderType.INTERNATIONAL:
            return self._foreign_city.draw(self._rng)
        return self._metro.draw(self._rng)

    def _lines(self) -> list[dict[str, Any]]:
        count = self._line_count.draw(self._rng)
        skus: list[str] = []
        while len(skus) < count:  # redraw repeats: an order names each SKU once
            sku = self._sku.draw(self._rng)
            if sku not in skus:
                skus.append(sku)
        return [{"sku": sku, "quantity": self._quantity.draw(self._rng)} for sku in skus]
