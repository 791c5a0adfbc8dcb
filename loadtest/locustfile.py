"""Locust shoppers placing generated orders on the DOMS API.

By hand: `locust -f loadtest/locustfile.py --host http://127.0.0.1:8000` (web UI on :8089),
or add `--headless -u 10 -r 5 -t 1m`. DOMS_LOAD_SEED (default 42) fixes the demand, so a
run can be repeated with the same orders.

Locust patches the standard library with gevent on import: never import this module from
the asyncio processes (API, worker, `doms experiment`); run Locust as a subprocess.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections import Counter
from typing import Any

from locust import FastHttpUser, between, events, task
from locust.env import Environment

from loadtest.orders import OrderGenerator, user_seed

BASE_SEED = int(os.environ.get("DOMS_LOAD_SEED", "42"))
PLACED, REJECTED = 201, 409

outcomes: Counter[str] = Counter()
logger = logging.getLogger(__name__)


class Shopper(FastHttpUser):
    """A customer who places an order every second or so."""

    wait_time = between(0.5, 1.5)
    _spawned = itertools.count()  # numbers the users of this Locust process

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        # Users differ from each other, also across distributed Locust workers, yet a
        # run with the same seed and user count repeats the same demand. Local and worker
        # runners carry a worker_index; the base Runner type does not declare it.
        worker_index: int = getattr(environment.runner, "worker_index", 0)
        self.orders = OrderGenerator(user_seed(BASE_SEED, worker_index, next(self._spawned)))

    @task
    def place_order(self) -> None:
        body = self.orders.next_order()
        with self.client.post(
            "/orders", json=body, name="POST /orders", catch_response=True
        ) as response:
            judge(response)


def judge(response: Any) -> None:  # a locust response; its success/failure are untyped
    """201 placed; 409 cannot be served (e.g. out of stock): a business outcome, so a
    success for the load test; anything else is a failure of the system."""
    if response.status_code == PLACED:
        outcomes["placed"] += 1
        response.success()
    elif response.status_code == REJECTED:
        outcomes["rejected"] += 1
        response.success()
    else:
        outcomes["failed"] += 1
        response.failure(f"unexpected {response.status_code}: {(response.text or '')[:200]}")


def report_outcomes(**_: Any) -> None:
    logger.info(
        "orders placed: %d, rejected (409, cannot be served): %d, failed: %d",
        outcomes["placed"],
        outcomes["rejected"],
        outcomes["failed"],
    )


events.test_stop.add_listener(report_outcomes)  # type: ignore[no-untyped-call]
