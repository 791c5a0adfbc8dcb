from __future__ import annotations

import pytest

from domain.countries import HOME_COUNTRY, ISO_COUNTRY_CODES, is_known_country
from domain.orders import (
    Destination,
    OrderLine,
    OrderStatus,
    OrderType,
    destination_error,
)


def test_the_country_list_is_the_full_iso_3166_alpha_2_list() -> None:
    assert len(ISO_COUNTRY_CODES) == 249
    assert all(len(code) == 2 and code.isupper() for code in ISO_COUNTRY_CODES)
    assert {"US", "GB", "DE", "JP", "BR", "AQ", "SS", "XK"} - ISO_COUNTRY_CODES == {"XK"}


def test_country_codes_are_matched_exactly_and_in_upper_case() -> None:
    assert is_known_country("CA")
    assert not is_known_country("ca")
    assert not is_known_country("UK")
    assert not is_known_country("USA")


def test_the_home_country_is_a_known_country() -> None:
    assert is_known_country(HOME_COUNTRY)


@pytest.mark.parametrize("order_type", [OrderType.STANDARD, OrderType.EXPEDITED])
def test_domestic_order_types_ship_within_the_home_country(order_type: OrderType) -> None:
    assert destination_error(order_type, "US") is None
    assert destination_error(order_type, "CA") == (
        f"{order_type} orders ship within US; use international for CA"
    )


def test_international_orders_ship_abroad_only() -> None:
    assert destination_error(OrderType.INTERNATIONAL, "DE") is None
    assert destination_error(OrderType.INTERNATIONAL, "US") == (
        "international orders must ship outside US; use standard or expedited"
    )


@pytest.mark.parametrize("order_type", list(OrderType))
def test_an_unknown_country_is_reported_whatever_the_order_type(order_type: OrderType) -> None:
    assert destination_error(order_type, "ZZ") == "unknown country code 'ZZ'"
    assert destination_error(order_type, "us") == "unknown country code 'us'"


def test_statuses_and_types_travel_as_their_plain_names() -> None:
    assert OrderStatus("rejected") is OrderStatus.REJECTED
    assert f"{OrderType.EXPEDITED}" == "expedited"


@pytest.mark.parametrize("quantity", [0, -3])
def test_an_order_line_needs_a_positive_quantity(quantity: int) -> None:
    with pytest.raises(ValueError, match="positive quantity"):
        OrderLine("SKU-0001", quantity)


@pytest.mark.parametrize(("lat", "lon"), [(90.5, 0.0), (0.0, -180.5)])
def test_a_destination_must_lie_on_the_globe(lat: float, lon: float) -> None:
    with pytest.raises(ValueError, match="not on the globe"):
        Destination("US", "10001", lat, lon)
