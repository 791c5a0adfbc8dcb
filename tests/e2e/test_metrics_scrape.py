"""Metrics on the real stack: one order moves the counters of the API, of the worker and of
the Temporal SDK, each scraped where Prometheus scrapes it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from system import RunningSystem, eventually, order_in_status

ORDER = {
    "customer_id": "c-metrics",
    "order_type": "standard",
    "destination": {"country": "US", "postal_code": "10001", "lat": 40.75, "lon": -73.99},
    "lines": [{"sku": "SKU-0003", "quantity": 2}],
}
ORDER_LABELS = {"order_type": "standard", "mode": "distributed"}
# The SDK's counter temporal_workflow_completed: the parser names its samples with the
# _total that the Prometheus text format leaves optional.
WORKFLOWS_COMPLETED = "temporal_workflow_completed_total"


class Samples(dict[tuple[str, frozenset[tuple[str, str]]], float]):
    """One scrape: every sample's value by name and labels."""

    @classmethod
    def parse(cls, text: str) -> Samples:
        return cls(
            ((sample.name, frozenset(sample.labels.items())), sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        )

    def value(self, name: str, **labels: str) -> float:
        """One sample; 0 when it was never recorded."""
        return self.get((name, frozenset(labels.items())), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """The sum of every sample of `name` that carries `labels`, among others."""
        wanted = set(labels.items())
        return sum(v for (n, have), v in self.items() if n == name and wanted <= have)

    def orders(self, event: str, fc: str = "") -> float:
        labels = {"event": event, "fulfilment_centre": fc, **ORDER_LABELS}
        return self.value("doms_orders_total", **labels)


@dataclass
class Scrapes:
    before: Samples
    after: Samples

    def moved(self, name: str, **labels: str) -> float:
        return self.after.total(name, **labels) - self.before.total(name, **labels)

    def orders_moved(self, event: str, fc: str = "") -> float:
        return self.after.orders(event, fc) - self.before.orders(event, fc)


@dataclass
class OneOrder:
    """What the three endpoints showed before and after one order was delivered."""

    order: dict[str, Any]
    api: Scrapes
    worker: Scrapes
    sdk: Scrapes

    @property
    def fc(self) -> str:
        [allocation] = self.order["allocations"]
        return str(allocation["fulfilment_centre"])


async def scrape(http: httpx.AsyncClient, url: str) -> Samples:
    response = await http.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return Samples.parse(response.text)


async def available_units(http: httpx.AsyncClient) -> float:
    """The units available in every FC, from the API (the database), page by page."""
    total, cursor = 0.0, None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        response = await http.get("/inventory", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        total += sum(item["available"] for item in page["items"])
        if not (cursor := page["next_cursor"]):
            return total


@pytest.fixture(scope="module")
async def one_order(fast_system: RunningSystem) -> AsyncIterator[OneOrder]:
    api = f"{fast_system.api_url}/metrics"
    worker = f"http://127.0.0.1:{fast_system.env['DOMS_METRICS_PORT']}/metrics"
    sdk = f"http://127.0.0.1:{fast_system.env['DOMS_TEMPORAL_METRICS_PORT']}/metrics"
    async with fast_system.client() as http:

        async def worker_with_stock_read() -> Samples | None:
            """A reading of the stock as the database has it now: the worker reads it every
            few seconds, and orders of earlier modules on this system may have moved it."""
            try:  # `doms up` is ready once its API is; its worker may still be starting
                samples = await scrape(http, worker)
            except httpx.TransportError:
                return None
            read = samples.total("doms_stock_available_units")
            return samples if read and read == await available_units(http) else None

        api_before = await scrape(http, api)
        worker_before = await eventually(
            worker_with_stock_read, within=30, what="the worker's first reading of stock"
        )
        sdk_before = await scrape(http, sdk)

        response = await http.post("/orders", json=ORDER)
        assert response.status_code == 201, response.text
        order = await order_in_status(http, response.json()["order_id"], "delivered", within=60)

        async def worker_after_delivery_and_a_stock_reading() -> Samples | None:
            now = await scrape(http, worker)
            stock = "doms_stock_available_units"
            seen = now.orders("delivered") > worker_before.orders("delivered")
            return now if seen and now.total(stock) != worker_before.total(stock) else None

        async def sdk_after_completion() -> Samples | None:
            now = await scrape(http, sdk)
            done = now.total(WORKFLOWS_COMPLETED) > sdk_before.total(WORKFLOWS_COMPLETED)
            return now if done else None

        yield OneOrder(
            order,
            Scrapes(api_before, await scrape(http, api)),
            Scrapes(
                worker_before,
                await eventually(
                    worker_after_delivery_and_a_stock_reading,
                    within=30,
                    what="the worker's metrics to show the order delivered and its stock",
                ),
            ),
            Scrapes(
                sdk_before,
                await eventually(
                    sdk_after_completion, within=30, what="the SDK to count the workflow"
                ),
            ),
        )


def test_the_api_counts_the_order_placed_and_allocated_and_times_its_post(
    one_order: OneOrder,
) -> None:
    api = one_order.api

    assert api.orders_moved("placed") == 1
    assert api.orders_moved("allocated", one_order.fc) == 1
    assert api.orders_moved("shipped", one_order.fc) == 0  # the worker ships
    assert api.moved("doms_order_intake_duration_seconds_count", status_code="201") == 1


def test_the_worker_counts_it_shipped_and_delivered_and_observes_its_hours_and_stock(
    one_order: OneOrder,
) -> None:
    worker, fc = one_order.worker, one_order.fc

    assert worker.orders_moved("shipped", fc) == 1
    assert worker.orders_moved("delivered") == 1
    for phase in ("order", "shipping", "delivery", "fulfilment"):
        assert worker.moved("doms_order_phase_hours_count", phase=phase, **ORDER_LABELS) == 1
    fulfilment = worker.moved("doms_order_phase_hours_sum", phase="fulfilment", **ORDER_LABELS)
    assert fulfilment == pytest.approx(one_order.order["timings"]["fulfilment_hours"])
    assert worker.moved("doms_stock_available_units", fulfilment_centre=fc) == -2
    assert worker.after.value("doms_fc_backlog_orders", fulfilment_centre=fc) == 0


def test_the_temporal_sdk_shows_the_workflow_completed_and_the_ship_activity_waited_for(
    one_order: OneOrder,
) -> None:
    sdk, fc_queue = one_order.sdk, f"fc-{one_order.fc}"

    assert sdk.moved(WORKFLOWS_COMPLETED, workflow_type="Order", task_queue="orders") == 1
    assert sdk.moved("temporal_activity_schedule_to_start_latency_count", task_queue=fc_queue) == 1
    assert sdk.moved("temporal_workflow_task_schedule_to_start_latency_count") > 0
    assert sdk.after.total("temporal_worker_task_slots_available", task_queue="orders") > 0
