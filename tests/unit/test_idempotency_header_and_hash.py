"""The pure parts of Idempotency-Key handling: which keys are valid, which bodies are the same
request, and how long keys must be kept."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from api.idempotency import HEADER, checked_key, request_hash
from api.problems import Problem
from api.schemas import OrderCreate
from doms.settings import Settings

ORDER: dict[str, Any] = {
    "customer_id": "c-42",
    "order_type": "standard",
    "destination": {"country": "US", "postal_code": "10001", "lat": 40.75, "lon": -73.99},
    "lines": [{"sku": "SKU-0001", "quantity": 2}],
}


def hash_of(body: dict[str, Any]) -> str:
    return request_hash(OrderCreate.model_validate(body))


def test_the_same_order_written_differently_is_the_same_request() -> None:
    reordered = {key: ORDER[key] for key in reversed(ORDER)}
    with_defaults = {**ORDER, "backorder": None}

    assert hash_of(reordered) == hash_of(with_defaults) == hash_of(ORDER)


def test_another_quantity_is_another_request() -> None:
    more = {**ORDER, "lines": [{"sku": "SKU-0001", "quantity": 3}]}

    assert hash_of(more) != hash_of(ORDER)


@pytest.mark.parametrize("key", ["a", "k" * 255, "9f1c-4b2e uuid:~!"])
def test_printable_ascii_keys_up_to_255_characters_are_valid(key: str) -> None:
    assert checked_key(key) == key


@pytest.mark.parametrize("key", ["", "k" * 256, "clé", "tab\there"])
def test_other_keys_are_refused_naming_the_header(key: str) -> None:
    with pytest.raises(Problem) as refused:
        checked_key(key)

    assert refused.value.status == 422
    assert refused.value.extra["errors"][0]["field"] == HEADER


def test_keys_are_kept_a_day_by_default() -> None:
    assert Settings().idempotency_ttl_hours == 24


def test_keeping_keys_less_than_a_day_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOMS_IDEMPOTENCY_TTL_HOURS", "12")

    with pytest.raises(ValidationError, match=r"should be at least 24 \(hours\)"):
        Settings()
