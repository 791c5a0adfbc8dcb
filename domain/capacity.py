"""How long a centre takes to hand an order to the carrier, given the orders ahead of it.

A centre picks `capacity_per_hour` orders per simulated hour, first come first served. An
order arriving behind `backlog` others waits backlog / capacity hours for them, then takes
the centre's own handling time for its type. No queueing-theory formula, just the orders
ahead divided by the throughput, so every hour of it can be explained and measured.

This is the paper's mechanism made explicit: a single central centre takes every order,
so under load its backlog, and with it every customer's wait, grows; regional centres
each take their region's share and stay near their base handling time.
"""

from __future__ import annotations

from domain.network import FulfilmentCentre
from domain.orders import OrderType


def backlog_hours(centre: FulfilmentCentre, backlog_orders: int) -> float:
    """The centre's load: hours of work queued ahead of a new order."""
    if backlog_orders < 0:
        raise ValueError(f"a backlog cannot be negative, got {backlog_orders} orders")
    return backlog_orders / centre.capacity_per_hour


def handling_hours(centre: FulfilmentCentre, order_type: OrderType, backlog_orders: int) -> float:
    """Hours from allocation to dispatch: the wait for the orders ahead, then the handling."""
    return centre.handling_hours[order_type] + backlog_hours(centre, backlog_orders)
