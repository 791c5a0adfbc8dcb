from __future__ import annotations

import pytest

from domain.geo import great_circle_km
from domain.network import DEFAULT_NETWORK, FulfilmentCentre, Network


def centre(fc_id: str, central: bool = False) -> FulfilmentCentre:
    return FulfilmentCentre(fc_id, fc_id.upper(), "region", "US", 40.0, -90.0, central)


def test_default_network_has_six_regional_centres_and_kansas_city_as_the_hub() -> None:
    regional = ["sea", "oak", "dfw", "ord", "atl", "ewr"]
    assert [fc.id for fc in DEFAULT_NETWORK.regional()] == regional
    assert DEFAULT_NETWORK.central().id == "mci"
    assert DEFAULT_NETWORK.ids() == ("sea", "oak", "dfw", "ord", "atl", "ewr", "mci")
    assert {fc.country for fc in DEFAULT_NETWORK.centres} == {"US"}


def test_default_centres_are_spread_across_the_country() -> None:
    seattle, newark = DEFAULT_NETWORK.get("sea"), DEFAULT_NETWORK.get("ewr")
    assert great_circle_km(seattle.lat, seattle.lon, newark.lat, newark.lon) > 3500
    hub = DEFAULT_NETWORK.central()
    for fc in DEFAULT_NETWORK.regional():
        assert 300 < great_circle_km(hub.lat, hub.lon, fc.lat, fc.lon) < 2600


def test_each_centre_has_its_own_task_queue() -> None:
    assert DEFAULT_NETWORK.get("dfw").task_queue == "fc-dfw"


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
