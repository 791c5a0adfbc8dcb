"""Sourcing invariants on random small networks, checked against a brute force.

Up to 6 centres (one central), up to 5 SKUs: small enough to try every set of centres.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, replace
from itertools import combinations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from domain.geo import great_circle_km
from domain.network import FulfilmentCentre, Market, Network, market_of
from domain.network_spec import NetworkSpec
from domain.orders import Destination, Mode, OrderLine, OrderType
from domain.service_levels import DEFAULT_SERVICE_LEVELS
from domain.sourcing import SourcingDecision, source

SKUS = ("S1", "S2", "S3", "S4", "S5")
MARKET_SETS = (
    frozenset({Market.DOMESTIC}),
    frozenset({Market.INTERNATIONAL}),
    frozenset(Market),
)


@dataclass(frozen=True)
class Case:
    spec: NetworkSpec
    mode: Mode
    order_type: OrderType
    destination: Destination
    lines: list[OrderLine]
    stock: dict[tuple[str, str], int]
    backlog: dict[str, int]
    max_parcels: int

    def decide(self) -> SourcingDecision:
        return source(
            self.spec, self.mode, self.order_type, self.destination, self.lines, self.stock,
            self.backlog, self.max_parcels,
        )  # fmt: skip

    def wanted(self) -> Counter[str]:
        totals = Counter[str]()
        for line in self.lines:
            totals[line.sku] += line.quantity
        return totals

    def eligible(self) -> list[FulfilmentCentre]:
        """Who may ship, worked out from the mode's definition rather than the code."""
        network = self.spec.network
        market = market_of(self.destination.country)
        regional = [fc for fc in network.regional() if market in fc.markets]
        return {
            Mode.CENTRALIZED: [network.central()],
            Mode.DISTRIBUTED: regional,
            Mode.HYBRID: [*regional, network.central()],
        }[self.mode]

    def holds(self, fc: FulfilmentCentre, sku: str, quantity: int) -> bool:
        return self.stock.get((fc.id, sku), 0) >= quantity

    def km(self, fc: FulfilmentCentre) -> float:
        return great_circle_km(fc.lat, fc.lon, self.destination.lat, self.destination.lon)

    def smallest_covers(
        self, centres: list[FulfilmentCentre]
    ) -> list[tuple[FulfilmentCentre, ...]]:
        """Brute force: every smallest set of centres holding every SKU, up to max_parcels."""
        wanted = self.wanted()
        for size in range(1, self.max_parcels + 1):
            covers = [
                chosen
                for chosen in combinations(centres, size)
                if all(any(self.holds(fc, sku, q) for fc in chosen) for sku, q in wanted.items())
            ]
            if covers:
                return covers
        return []

    def best_covers(self) -> list[tuple[FulfilmentCentre, ...]]:
        eligible = self.eligible()
        if self.mode is Mode.HYBRID:
            regional = [fc for fc in eligible if not fc.central]
            if covers := self.smallest_covers(regional):
                return covers
        return self.smallest_covers(eligible)


@st.composite
def centres(draw: st.DrawFn, regional: int) -> list[FulfilmentCentre]:
    def coordinates() -> tuple[float, float]:
        return draw(st.floats(-60, 60)), draw(st.floats(-180, 180))

    def regional_centre(i: int) -> FulfilmentCentre:
        capacity = draw(st.sampled_from([10.0, 40.0, 100.0]))
        markets = draw(st.sampled_from(MARKET_SETS))
        lat, lon = coordinates()
        return FulfilmentCentre(
            f"r{i}", f"R{i}", "t", "US", lat, lon, False, capacity, markets=markets
        )

    found = [regional_centre(i) for i in range(regional)]
    found.append(FulfilmentCentre("hub", "Hub", "test", "US", *coordinates(), central=True))
    return draw(st.permutations(found))


@st.composite
def cases(draw: st.DrawFn) -> Case:
    fcs = draw(st.integers(1, 5).flatmap(centres))
    try:
        network = Network(tuple(fcs))
    except ValueError:  # a market no regional centre serves
        assume(False)
        raise
    abroad = draw(st.booleans())
    order_type = (
        OrderType.INTERNATIONAL
        if abroad
        else draw(st.sampled_from([OrderType.STANDARD, OrderType.EXPEDITED]))
    )
    destination = Destination(
        "GB" if abroad else "US", "00000", draw(st.floats(-60, 60)), draw(st.floats(-180, 180))
    )
    ordered = SKUS[: draw(st.integers(1, len(SKUS)))]
    repeats = draw(st.lists(st.sampled_from(ordered), max_size=2))  # the same SKU again
    lines = [OrderLine(sku, draw(st.integers(1, 2))) for sku in (*ordered, *repeats)]
    keys = [(fc.id, sku) for fc in fcs for sku in SKUS]
    # Mostly plenty or nothing, sometimes just short: splits, shortages and single parcels.
    units = st.sampled_from([6, 0, 6, 0, 2])
    stock = dict(
        zip(keys, draw(st.lists(units, min_size=len(keys), max_size=len(keys))), strict=True)
    )
    backlog = {fc.id: draw(st.integers(0, 50)) for fc in fcs}
    spec = NetworkSpec(network, DEFAULT_SERVICE_LEVELS, SKUS, {})
    return Case(
        spec, draw(st.sampled_from(list(Mode))), order_type, destination, lines, stock, backlog,
        draw(st.integers(1, 4)),
    )  # fmt: skip


@settings(max_examples=300)
@given(cases())
def test_parcels_ship_every_unit_once_from_stock_the_centre_really_has(case: Case) -> None:
    decision = case.decide()
    shipped = Counter[str]()
    for parcel in decision.parcels:
        assert parcel.lines, "no empty parcels"
        for line in parcel.lines:
            assert case.stock.get((parcel.centre_id, line.sku), 0) >= line.quantity
            assert line.sku not in shipped, "each SKU comes wholly from one centre"
            shipped[line.sku] += line.quantity
    if decision.served:
        assert shipped == case.wanted()


@settings(max_examples=300)
@given(cases())
def test_a_decision_uses_at_most_max_parcels_distinct_eligible_centres(case: Case) -> None:
    decision = case.decide()
    ids = [parcel.centre_id for parcel in decision.parcels]
    assert len(ids) == len(set(ids)) <= case.max_parcels
    assert set(ids) <= {fc.id for fc in case.eligible()}
    assert decision.splits == max(0, len(ids) - 1)


@settings(max_examples=300)
@given(cases())
def test_the_number_of_parcels_is_the_brute_force_minimum(case: Case) -> None:
    decision = case.decide()
    covers = case.best_covers()
    assert decision.served == bool(covers)
    if covers:
        assert len(decision.parcels) == len(covers[0])


@settings(max_examples=300)
@given(cases())
def test_among_the_fewest_parcels_the_total_distance_is_the_least(case: Case) -> None:
    decision = case.decide()
    covers = case.best_covers()
    if covers:
        least = min(round(sum(case.km(fc) for fc in cover)) for cover in covers)
        assert round(sum(parcel.distance_km for parcel in decision.parcels)) == least


@settings(max_examples=300)
@given(cases())
def test_an_unserved_order_lists_exactly_the_skus_no_single_centre_can_fill(case: Case) -> None:
    decision = case.decide()
    if decision.served:
        assert decision.shortages == ()
        return
    assert decision.promised_hours is None
    eligible = case.eligible()
    expected = {
        sku: max((case.stock.get((fc.id, sku), 0) for fc in eligible), default=0)
        for sku, quantity in case.wanted().items()
        if not any(case.holds(fc, sku, quantity) for fc in eligible)
    }
    assert {s.sku: s.available for s in decision.shortages} == expected


@settings(max_examples=300)
@given(cases())
def test_the_promise_covers_the_slowest_parcel_plus_the_margin(case: Case) -> None:
    decision = case.decide()
    if decision.served:
        margin = DEFAULT_SERVICE_LEVELS[case.order_type].promise_margin_hours
        slowest = max(parcel.hours for parcel in decision.parcels)
        assert decision.promised_hours == math.ceil(slowest + margin)


@settings(max_examples=200)
@given(cases(), st.randoms(use_true_random=False))
def test_the_order_centres_are_listed_in_does_not_change_the_decision(
    case: Case, rng: random.Random
) -> None:
    shuffled = list(case.spec.network.centres)
    rng.shuffle(shuffled)
    spec = replace(case.spec, network=Network(tuple(shuffled)))
    assert replace(case, spec=spec).decide() == case.decide()
