"""Value rules shared by the domain's constructors and the network-file parser.

A rule returns None when a value is fine, or what is wrong with it, worded to follow a
path: ``centres[2].lat: must be between -90 and 90``. One rule, two users, no drift.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from domain.countries import is_known_country

Rule = Callable[[float], str | None]


def positive(value: float) -> str | None:
    return None if math.isfinite(value) and value > 0 else "must be positive"


def non_negative(value: float) -> str | None:
    return None if math.isfinite(value) and value >= 0 else "must be zero or more"


def between(low: float, high: float) -> Rule:
    def rule(value: float) -> str | None:
        return None if low <= value <= high else f"must be between {low:g} and {high:g}"

    return rule


def known_country(code: str) -> str | None:
    return None if is_known_country(code) else f"unknown country code {code!r} (ISO 3166-1 alpha-2)"
