"""Locust shoppers placing generated orders on the DOMS API, and answering their surveys.

By hand, with the web UI on :8089:
    locust -f loadtest/locustfile.py --host http://127.0.0.1:8000
headless, with the user count and duration you choose:
    locust -f loadtest/locustfile.py --host http://127.0.0.1:8000 --headless -u 10 -r 5 -t 1m
at one of the paper's load levels, a constant arrival rate (the users follow from it;
-u and -r are then ignored, -t still ends the run):
    DOMS_LOAD_LEVEL=medium DOMS_LOAD_SCALE=0.01 locust -f loadtest/locustfile.py \\
        --host http://127.0.0.1:8000 --headless -t 1m --csv var/load

Settings (environment):
    DOMS_API_KEY               the API key sent as `Authorization: Bearer`: an operator key,
                               as shoppers order for many customers (`doms up` prints one
                               and writes it to var/api-keys.json; `doms keys create
                               --role operator` makes one)
    DOMS_LOAD_SEED             fixes the demand and the survey answers (default 42), so a
                               run can be repeated with the same orders
    DOMS_LOAD_MIX              order type weights (default standard=0.7,expedited=0.2,
                               international=0.1)
    DOMS_LOAD_LEVEL            low | medium | high: the paper's 200 / 500 / 1,000 orders/s
                               times DOMS_LOAD_SCALE; unset: each user orders every second
                               or so, -u users
    DOMS_LOAD_SCALE            default 0.01: one laptop cannot generate 1,000 orders/s
                               through HTTP and Temporal, so by default the levels run at
                               2 / 5 / 10 orders/s
    DOMS_LOAD_SURVEYS          shoppers answer the survey of their delivered orders
                               (default on; 0 turns it off)
    DOMS_LOAD_MAX_ERROR_RATIO  the run exits 1 above this share of failed requests
                               (default 0.01; empty: no check)
    DOMS_LOAD_MAX_P95_MS       the run exits 1 above this p95 of POST /orders, in ms
                               (default: no check)

Locust patches the standard library with gevent on import: never import this module from
the asyncio processes (API, worker, `doms experiment`); run Locust as a subprocess.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import time
from collections import Counter
from typing import Any

from locust import FastHttpUser, LoadTestShape, between, constant_throughput, events, task
from locust.env import Environment

from domain.orders import FINAL_STATUSES, OrderStatus
from domain.satisfaction import survey_answers
from loadtest.orders import DEFAULT_MIX, OrderGenerator, parse_mix, user_seed
from loadtest.shape import (
    DEFAULT_MAX_ERROR_RATIO,
    DEFAULT_SCALE,
    LoadPlan,
    enabled,
    optional_float,
    plan_load,
    shape_tick,
    threshold_breaches,
)
from loadtest.surveys import Pending, SurveyQueue, promise_span_seconds

# Every environment variable this file reads. docker-compose.yml may set only these (its
# test reads this tuple without importing the file, which would import Locust).
LOAD_SETTINGS = (
    "DOMS_API_KEY",
    "DOMS_LOAD_SEED",
    "DOMS_LOAD_MIX",
    "DOMS_LOAD_LEVEL",
    "DOMS_LOAD_SCALE",
    "DOMS_LOAD_SURVEYS",
    "DOMS_LOAD_MAX_ERROR_RATIO",
    "DOMS_LOAD_MAX_P95_MS",
)

BASE_SEED = int(os.environ.get("DOMS_LOAD_SEED", "42"))
MIX = parse_mix(os.environ["DOMS_LOAD_MIX"]) if os.environ.get("DOMS_LOAD_MIX") else DEFAULT_MIX
LEVEL = os.environ.get("DOMS_LOAD_LEVEL", "").strip()
PLAN: LoadPlan | None = (
    plan_load(LEVEL, float(os.environ.get("DOMS_LOAD_SCALE") or DEFAULT_SCALE)) if LEVEL else None
)
SURVEYS = enabled(os.environ.get("DOMS_LOAD_SURVEYS"), default=True)
MAX_ERROR_RATIO = optional_float(
    os.environ.get("DOMS_LOAD_MAX_ERROR_RATIO", str(DEFAULT_MAX_ERROR_RATIO))
)
MAX_P95_MS = optional_float(os.environ.get("DOMS_LOAD_MAX_P95_MS"))
API_KEY = os.environ.get("DOMS_API_KEY", "").strip()

PLACED, REJECTED, OK, ANSWERED = 201, 409, 200, 201
ALREADY_ANSWERED = 409
SURVEY_STREAM = 1  # the survey rng's seed index, apart from the order generator's
LOOKS_PER_ORDER_PLACED = 3  # at most this many pending orders looked at per task run
PLACE_ORDER = "POST /orders"

outcomes: Counter[str] = Counter()
logger = logging.getLogger(__name__)


class Shopper(FastHttpUser):
    """A customer who places orders and, once one is delivered, answers its survey.

    At a load level, every shopper places orders at a constant rate (Locust's
    constant_throughput); otherwise one every second or so. Looking at pending orders
    happens in the same task, after placing, so it does not slow the arrival rate down
    as long as a task run takes less than its interval.
    """

    wait_time = constant_throughput(PLAN.orders_per_user_per_second) if PLAN else between(0.5, 1.5)
    default_headers = {"Authorization": f"Bearer {API_KEY}"} if API_KEY else None
    _spawned = itertools.count()  # numbers the users of this Locust process

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        # Users differ from each other, also across distributed Locust workers, yet a
        # run with the same seed and user count repeats the same demand. Local and worker
        # runners carry a worker_index; the base Runner type does not declare it.
        worker_index: int = getattr(environment.runner, "worker_index", 0)
        number = next(self._spawned)
        self.orders = OrderGenerator(user_seed(BASE_SEED, worker_index, number), MIX)
        self.survey_rng = random.Random(user_seed(BASE_SEED, worker_index, number, SURVEY_STREAM))
        self.pending = SurveyQueue()

    @task
    def place_order(self) -> None:
        body = self.orders.next_order()
        with self.client.post(
            "/orders", json=body, name=PLACE_ORDER, catch_response=True
        ) as response:
            judge(response)
            placed = response.json() if response.status_code == PLACED else None
        if not SURVEYS:
            return
        if placed is not None:
            self.remember(placed)
        for pending in self.pending.due(time.monotonic(), LOOKS_PER_ORDER_PLACED):
            self.look_at(pending)

    def remember(self, order: dict[str, Any]) -> None:
        span = promise_span_seconds(order.get("placed_at"), order.get("promised_delivery_at"))
        if self.pending.track(order["order_id"], time.monotonic(), span):
            outcomes["survey_tracked"] += 1
        else:
            outcomes["survey_untracked"] += 1  # memory full: this order goes unsurveyed

    def look_at(self, pending: Pending) -> None:
        with self.client.get(
            f"/orders/{pending.order_id}", name="GET /orders/{id}", catch_response=True
        ) as response:
            if response.status_code != OK:
                outcomes["survey_failed"] += 1
                response.failure(f"unexpected {response.status_code}: {_text(response)}")
                return
            order: dict[str, Any] = response.json()
        status = OrderStatus(order["status"])
        if status is OrderStatus.DELIVERED:
            self.answer_survey(order)
        elif status in FINAL_STATUSES:
            outcomes["survey_not_delivered"] += 1  # cancelled, failed: nothing to rate
        elif not self.pending.retry(pending, time.monotonic()):
            outcomes["survey_gave_up"] += 1

    def answer_survey(self, order: dict[str, Any]) -> None:
        fulfilment_hours = (order.get("timings") or {}).get("fulfilment_hours")
        if fulfilment_hours is None:  # delivered without its timings: nothing to rate by
            outcomes["survey_failed"] += 1
            logger.warning("order %s is delivered without timings", order["order_id"])
            return
        answers = survey_answers(
            order["order_type"],
            fulfilment_hours,
            order.get("promised_hours"),
            accurate=True,  # the system ships exactly what was ordered
            rng=self.survey_rng,
        )
        with self.client.post(
            f"/orders/{order['order_id']}/survey",
            json=answers.as_body(),
            name="POST /orders/{id}/survey",
            catch_response=True,
        ) as response:
            if response.status_code == ANSWERED:
                outcomes["surveys_answered"] += 1
                response.success()
            elif response.status_code == ALREADY_ANSWERED:
                outcomes["surveys_already_answered"] += 1
                response.success()
            else:
                outcomes["survey_failed"] += 1
                response.failure(f"unexpected {response.status_code}: {_text(response)}")


if PLAN is not None:
    LEVEL_PLAN: LoadPlan = PLAN

    class ConstantArrivals(LoadTestShape):
        """All the level's shoppers at once, for the -t run time (or until stopped)."""

        use_common_options = True  # -t is read here; the users come from the plan

        def tick(self) -> tuple[int, float] | None:
            options = self.runner.environment.parsed_options if self.runner else None
            run_time: float | None = getattr(options, "run_time", None) or None
            elapsed = time.perf_counter() - self.start_time  # as get_run_time(), typed
            return shape_tick(LEVEL_PLAN, elapsed, run_time)


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
        response.failure(f"unexpected {response.status_code}: {_text(response)}")


def _text(response: Any) -> str:
    return (response.text or "")[:200]


def announce_plan(**_: Any) -> None:
    if PLAN is not None:
        logger.info(
            "load level %s: %.1f orders/s (the paper's %.0f times scale %g) from %d users "
            "at %.2f orders/s each",
            PLAN.level,
            PLAN.orders_per_second,
            PLAN.paper_orders_per_second,
            PLAN.scale,
            PLAN.users,
            PLAN.orders_per_user_per_second,
        )


def report_outcomes(**_: Any) -> None:
    settled = sum(
        outcomes[name]
        for name in (
            "surveys_answered",
            "surveys_already_answered",
            "survey_not_delivered",
            "survey_gave_up",
            "survey_failed",
        )
    )
    logger.info(
        "orders placed: %d, rejected (409, cannot be served): %d, failed: %d; "
        "surveys answered: %d (already answered: %d, not delivered: %d, gave up waiting: %d, "
        "failed: %d, not tracked: %d, still pending: %d)",
        outcomes["placed"],
        outcomes["rejected"],
        outcomes["failed"],
        outcomes["surveys_answered"],
        outcomes["surveys_already_answered"],
        outcomes["survey_not_delivered"],
        outcomes["survey_gave_up"],
        outcomes["survey_failed"],
        outcomes["survey_untracked"],
        outcomes["survey_tracked"] - settled,
    )


def check_thresholds(environment: Environment, **_: Any) -> None:
    """Exit 1 when the run breaks its error-ratio or p95 threshold."""
    placing = environment.stats.get(PLACE_ORDER, "POST")
    p95 = placing.get_response_time_percentile(0.95) if placing.num_requests else None
    breaches = threshold_breaches(
        environment.stats.total.fail_ratio, p95, MAX_ERROR_RATIO, MAX_P95_MS
    )
    for breach in breaches:
        logger.error("threshold breached: %s", breach)
    if breaches:
        environment.process_exit_code = 1


events.init.add_listener(announce_plan)  # type: ignore[no-untyped-call]
events.test_stop.add_listener(report_outcomes)  # type: ignore[no-untyped-call]
events.quitting.add_listener(check_thresholds)  # type: ignore[no-untyped-call]
