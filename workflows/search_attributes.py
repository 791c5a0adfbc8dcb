"""Custom search attributes, so the Temporal UI can list orders by type, status, FC and mode.

`doms up` registers them when it starts the dev server; `register` does it on any server.
"""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey

ORDER_TYPE = SearchAttributeKey.for_keyword("OrderType")
ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
FULFILMENT_CENTRE = SearchAttributeKey.for_keyword("FulfilmentCentre")
MODE = SearchAttributeKey.for_keyword("Mode")
ALL_KEYS = (ORDER_TYPE, ORDER_STATUS, FULFILMENT_CENTRE, MODE)


async def register(client: Client) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={
                key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for key in ALL_KEYS
            },
        )
    )
