"""Custom search attributes, so the Temporal UI can list orders by type, status, FC and mode.

`doms up` registers them when it starts the dev server; `register` does it on any server.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey

ORDER_TYPE = SearchAttributeKey.for_keyword("OrderType")
ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
# A list, so `FulfilmentCentre = "ewr"` also finds the orders split between ewr and others.
FULFILMENT_CENTRE = SearchAttributeKey.for_keyword_list("FulfilmentCentre")
MODE = SearchAttributeKey.for_keyword("Mode")
ALL_KEYS: tuple[SearchAttributeKey[Any], ...] = (ORDER_TYPE, ORDER_STATUS, FULFILMENT_CENTRE, MODE)


async def register(client: Client, keys: Iterable[SearchAttributeKey[Any]] = ALL_KEYS) -> None:
    """Add these search attributes to the client's namespace (all of ours by default)."""
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(key.indexed_value_type) for key in keys
            },
        )
    )
