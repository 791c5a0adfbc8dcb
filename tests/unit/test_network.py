from __future__ import annotations

import pytest

from domain.geo import great_circle_km
from domain.network import (
    DEFAULT_NETWORK,
    FulfilmentCentre,
    Market,
    Network,
    market_of,
)
from domain.orders import OrderType

DOMESTIC = frozenset({Market.DOMESTIC})
INTERNATIONAL = frozenset({Market.INTERNATIONAL})


def centre(
    fc_id: str, central: bool = False, markets: frozenset[Market] = frozenset(Market)
) -> FulfilmentCentre:
    return FulfilmentCentre(
        fc_id, fc_id.upper(), "region", "US", 40.0, -90.0, central, markets=markets
    )


def test_default_network_has_six_us_centres_three_gateways_and_kansas_city_as_the_hub() -> None:
    domestic = [fc.id for fc in DEFAULT_NETWORK.regional() if fc.serves(Market.DOMESTIC)]
    abroad = [fc.id for fc in DEFAULT_NETWORK.regional() if fc.serves(Market.INTERNATIONAL)]
    assert domestic == ["sea", "oak", "dfw", "ord", "atl", "ewr"]
    assert abroad == ["mia", "ams", "sin"]
    assert DEFAULT_NETWORK.central().id == "mci"
    assert DEFAULT_NETWORK.central().markets == frozenset(Market)
    assert {fc.country for fc in DEFAULT_NETWORK.centres} == {"US", "NL", "SG"}


def test_default_domestic_centres_are_spread_across_the_country() -> None:
    seattle, newark = DEFAULT_NETWORK.get("sea"), DEFAULT_NETWORK.get("ewr")
    assert great_circle_km(seattle.lat, seattle.lon, newark.lat, newark.lon) > 3500
    hub = DEFAULT_NETWORK.central()
    for fc in DEFAULT_NETWORK.regional():
        if fc.serves(Market.DOMESTIC):
            assert 300 < great_circle_km(hub.lat, hub.lon, fc.lat, fc.lon) < 2600


def test_the_hub_picks_more_than_any_regional_centre_but_less_than_all_of_them() -> None:
    regional = [fc.capacity_per_hour for fc in DEFAULT_NETWORK.regional()]
    assert max(regional) < DEFAULT_NETWORK.central().capacity_per_hour < sum(regional)


def test_each_centre_has_its_own_task_queue() -> None:
    assert DEFAULT_NETWORK.get("dfw").task_queue == "fc-dfw"


def test_destinations_at_home_are_domestic_and_all_others_international() -> None:
    assert market_of("US") is Market.DOMESTIC
    assert market_of("CA") is Market.INTERNATIONAL


def test_a_centre_without_markets_or_handling_given_serves_everywhere_at_default_times() -> None:
    fc = FulfilmentCentre("fc", "FC", "east", "US", 40.0, -75.0)
    assert fc.markets == frozenset(Market)
    assert fc.capacity_per_hour == 40.0
    assert dict(fc.handling_hours) == {
        OrderType.STANDARD: 1.0,
        OrderType.EXPEDITED: 0.5,
        OrderType.INTERNATIONAL: 1.5,
    }


def test_a_centres_handling_times_cannot_be_changed_after_it_is_built() -> None:
    hours = {OrderType.STANDARD: 1.0, OrderType.EXPEDITED: 0.5, OrderType.INTERNATIONAL: 1.5}
    fc = FulfilmentCentre("fc", "FC", "east", "US", 40.0, -75.0, handling_hours=hours)
    hours[OrderType.STANDARD] = 9.0
    assert fc.handling_hours[OrderType.STANDARD] == 1.0
    with pytest.raises(TypeError):
        fc.handling_hours[OrderType.STANDARD] = 2.0  # type: ignore[index]
    assert hash(fc) == hash(FulfilmentCentre("fc", "FC", "east", "US", 40.0, -75.0))


def test_a_centre_lists_everything_wrong_with_it() -> None:
    with pytest.raises(ValueError) as caught:
        FulfilmentCentre(
            "fc", "FC", "east", "XX", 91.0, -75.0, False, 0.0,
            handling_hours={OrderType.STANDARD: -1.0}, markets=frozenset(),
        )  # fmt: skip
    message = str(caught.value)
    for problem in (
        "lat: must be between -90 and 90",
        "capacity_per_hour: must be positive",
        "country: unknown country code 'XX'",
        "handling_hours: missing expedited, international",
        "handling_hours.standard: must be zero or more",
        "markets: must name at least one market",
    ):
        assert problem in message


def test_looking_up_an_unknown_centre_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="no fulfilment centre 'lax'; known: sea, oak"):
        DEFAULT_NETWORK.get("lax")


def test_centre_ids_must_be_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        Network((centre("a"), centre("a"), centre("hub", central=True)))


@pytest.mark.parametrize("bad_id", ["Sea", "sea_1", "", "fc 1"])
def test_centre_ids_must_be_lowercase_slugs(bad_id: str) -> None:
    with pytest.raises(ValueError, match=r"\[a-z0-9-\]\+"):
        Network((centre(bad_id), centre("hub", central=True)))


def test_a_network_needs_exactly_one_central_centre() -> None:
    with pytest.raises(ValueError, match="exactly one central"):
        Network((centre("a"), centre("b")))
    with pytest.raises(ValueError, match="exactly one central"):
        Network((centre("a"), centre("h1", central=True), centre("h2", central=True)))


def test_a_network_needs_a_regional_centre() -> None:
    with pytest.raises(ValueError, match="at least one regional"):
        Network((centre("hub", central=True),))


def test_the_central_centre_must_serve_every_market() -> None:
    with pytest.raises(ValueError, match="'hub' must serve every market"):
        Network((centre("a"), centre("hub", central=True, markets=DOMESTIC)))


def test_every_market_needs_a_regional_centre() -> None:
    with pytest.raises(ValueError, match="no regional centre serves the international market"):
        Network((centre("a", markets=DOMESTIC), centre("hub", central=True)))
    Network(
        (centre("a", markets=DOMESTIC), centre("b", markets=INTERNATIONAL), centre("hub", True))
    )
