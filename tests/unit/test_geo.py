from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.geo import EARTH_MEAN_RADIUS_KM, great_circle_km

NEW_YORK = (40.7128, -74.0060)
LOS_ANGELES = (34.0522, -118.2437)
LONDON = (51.5074, -0.1278)
PARIS = (48.8566, 2.3522)

latitudes = st.floats(min_value=-90, max_value=90)
longitudes = st.floats(min_value=-180, max_value=180)


def test_new_york_to_los_angeles_is_about_3936_km() -> None:
    assert great_circle_km(*NEW_YORK, *LOS_ANGELES) == pytest.approx(3936, rel=0.01)


def test_london_to_paris_is_about_344_km() -> None:
    assert great_circle_km(*LONDON, *PARIS) == pytest.approx(344, rel=0.01)


def test_a_place_is_no_distance_from_itself() -> None:
    assert great_circle_km(*NEW_YORK, *NEW_YORK) == 0.0


def test_antipodes_are_half_the_circumference_apart() -> None:
    assert great_circle_km(0, 0, 0, 180) == pytest.approx(math.pi * EARTH_MEAN_RADIUS_KM)
    assert great_circle_km(90, 0, -90, 0) == pytest.approx(math.pi * EARTH_MEAN_RADIUS_KM)


@given(latitudes, longitudes, latitudes, longitudes)
def test_distance_is_symmetric_non_negative_and_at_most_half_the_circumference(
    lat1: float, lon1: float, lat2: float, lon2: float
) -> None:
    there = great_circle_km(lat1, lon1, lat2, lon2)
    back = great_circle_km(lat2, lon2, lat1, lon1)
    assert there == pytest.approx(back, abs=1e-6)
    assert 0.0 <= there <= math.pi * EARTH_MEAN_RADIUS_KM + 1e-6
