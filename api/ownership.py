"""A customer key acts on its own orders only; to it, anyone else's order does not exist.

404 rather than 403: a 403 would confirm that the order id is taken.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.problems import Problem
from store import queries


def order_not_found(order_id: str) -> Problem:
    return Problem(404, "Order not found", f"no order {order_id}")


def may_act_for(caller: Principal, customer_id: str) -> bool:
    """Whether the caller may read, change or place orders of this customer: a customer key
    for its own customer only, the other keys (operator; carriers stop at their role check)
    for any."""
    return not caller.is_customer or caller.customer_id == customer_id


async def check_owner(session: AsyncSession, caller: Principal, order_id: str) -> None:
    """404 when a customer asks about an order that is not its own (or no order at all)."""
    if not caller.is_customer:
        return
    if await queries.customer_of(session, order_id) != caller.customer_id:
        raise order_not_found(order_id)
