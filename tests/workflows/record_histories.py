"""Record the order histories that tests/workflows/test_replay.py replays.

    .venv/bin/python tests/workflows/record_histories.py              # record the missing ones
    .venv/bin/python tests/workflows/record_histories.py NAME ...     # only these (if missing)
    .venv/bin/python tests/workflows/record_histories.py --list

Each scenario runs one order to its final state through the real worker (`order_workers`:
the order workflow, its activities, the FC queues) on the time-skipping test server, with a
fresh SQLite app database, and writes the workflow's history to histories/<name>.json.

A recorded history is evidence of what workflows already running in production look like:
record one when a new kind of lifecycle appears (or before a change to the workflow lands,
so the old shape stays covered), and never re-record an existing one to make a replay
failure go away; that failure is the point (CONTRIBUTING.md, "Changing the order
workflow safely"). --overwrite exists for a history recorded wrongly, not for that.

Every scenario but happy-path (the outbox before the placement was passed in: the workflow
read it back) drives its order as production does: the API accepts it in the database and
the relay starts its workflow with the placement in its input. Most histories here were
recorded earlier through the update-with-start intake, which is gone (the workflow keeps its
`placement` update so that they replay); re-recording one would replace that evidence with
the outbox's shape, one more reason never to.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import json
import logging
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lifecycle import MANHATTAN, SEATTLE, an_order, start_order
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.faults import FaultInjector
from activities.messages import CancelRequest, OrderOutcome, OrderRequest, Placement
from activities.orders import OrderActivities
from domain.network_spec import NetworkSpec
from domain.orders import OrderLine, OrderStatus
from doms.network_file import load_network_spec
from doms.settings import Settings
from doms.worker import order_workers
from placing.service import Placing, StartTerms
from store import inventory
from store.db import create_engine, session_factory
from store.migrate import upgrade_to_head
from store.models import StockRow
from store.seed import seed_network_spec
from workflows import search_attributes
from workflows.order import OrderWorkflow
from workflows.starter import order_workflow_id

HISTORIES = Path(__file__).parent / "histories"
# Every event that names a client or worker names this, not the recording machine.
IDENTITY = "doms-history-recorder"
TASK_QUEUE = Settings.model_fields["task_queue"].default  # the orders queue `doms worker` serves
MORE_THAN_ANY_CENTRE_HOLDS = OrderLine("SKU-0020", 600)  # 500 per regional FC
# Several histories in histories/ were recorded with the update-with-start intake (removed)
# and are kept as they are; their scenarios now drive the outbox: their summaries say so.
THROUGH_THE_OUTBOX_NOW = "; re-recorded, it would go through the outbox"
UPDATE_WITH_START = f" [recorded with the update-with-start intake{THROUGH_THE_OUTBOX_NOW}]"


@dataclass(frozen=True)
class Recording:
    """What a scenario drives its order with."""

    env: WorkflowEnvironment
    sessions: async_sessionmaker[AsyncSession]
    spec: NetworkSpec
    task_queue: str

    def handle(self, order: OrderRequest) -> WorkflowHandle[OrderWorkflow, OrderOutcome]:
        return self.env.client.get_workflow_handle_for(
            OrderWorkflow.run, order_workflow_id(order.order_id)
        )

    async def outcome(self, order: OrderRequest) -> OrderOutcome:
        """The workflow's result, the test server skipping its timers meanwhile."""
        async with self.env.time_skipping_unlocked():  # type: ignore[attr-defined]
            return await self.handle(order).result()


Drive = Callable[[Recording, OrderRequest], Awaitable[None]]


@dataclass(frozen=True)
class Scenario:
    name: str  # the history's file name, and the order id (workflow id `order-<name>`)
    summary: str
    expected: OrderStatus  # the final status its history must end with
    drive: Drive
    order: Callable[[], OrderRequest] = an_order
    fault_rate: float = 0.0  # of the FC's pick/pack/ship step

    def order_request(self) -> OrderRequest:
        return dataclasses.replace(self.order(), order_id=self.name)


async def accepted_read_back(run: Recording, order: OrderRequest) -> None:
    """The outbox intake before the placement was passed in: the workflow reads it back."""
    at = datetime.now(UTC)
    order = dataclasses.replace(order, placed_at=at)
    await Placing(run.sessions, run.spec).place(order, at, start=StartTerms(None))
    await start_order(run.env.client, order, task_queue=run.task_queue)


async def accepted_through_the_outbox(run: Recording, order: OrderRequest) -> None:
    """The outbox intake, the only one now (production's path): the API sources and
    reserves, then the relay starts the workflow with that placement in its input."""
    await placed_through_the_outbox(run, order)


async def placed_through_the_outbox(run: Recording, order: OrderRequest) -> Placement:
    """As `accepted_through_the_outbox`; the placement that POST /orders answers."""
    at = datetime.now(UTC)
    order = dataclasses.replace(order, placed_at=at)
    placing = Placing(run.sessions, run.spec)
    placement = await placing.place(order, at, start=StartTerms(traceparent=None))
    order = dataclasses.replace(order, placement=placement)
    await start_order(run.env.client, order, task_queue=run.task_queue)
    return placement


async def split_order(run: Recording, order: OrderRequest) -> None:
    """Only Newark holds the first SKU and only Chicago the second: two parcels."""
    async with run.sessions() as session:
        for sku, only_at in (("SKU-0001", "ewr"), ("SKU-0002", "ord")):
            await session.execute(
                update(StockRow)
                .where(StockRow.sku == sku, StockRow.fc_id != only_at)
                .values(on_hand=0, available=0)
            )
        await session.commit()
    placement = await placed_through_the_outbox(run, order)
    centres = sorted(a.fulfilment_centre for a in placement.allocations)
    if centres != ["ewr", "ord"]:
        raise AssertionError(f"the split order was sourced to {centres}, not Newark and Chicago")


async def cancelled_before_dispatch(run: Recording, order: OrderRequest) -> None:
    await accepted_through_the_outbox(run, order)
    await run.handle(order).execute_update(OrderWorkflow.cancel, CancelRequest("changed my mind"))


async def moved_before_dispatch(run: Recording, order: OrderRequest) -> None:
    await accepted_through_the_outbox(run, order)
    await run.handle(order).execute_update(OrderWorkflow.change_destination, SEATTLE)


async def backordered_then_received(run: Recording, order: OrderRequest) -> None:
    """It waits; a receipt at Newark tops the SKU up and the order is allocated and shipped."""
    await accepted_through_the_outbox(run, order)
    async with run.sessions() as session:
        await inventory.receive(session, "r-1", "ewr", "SKU-0020", 100, datetime.now(UTC))
    placement = await run.handle(order).execute_update(OrderWorkflow.retry_allocation)
    if placement.status is not OrderStatus.ALLOCATED:
        raise AssertionError(f"the receipt did not allocate the backorder: {placement}")


def backorder(hours: float) -> Callable[[], OrderRequest]:
    return lambda: an_order(MORE_THAN_ANY_CENTRE_HOLDS, backorder_hours=hours)


SCENARIOS = (
    Scenario(
        "happy-path",
        "outbox intake, placement read back by the workflow: allocated, shipped, delivered",
        OrderStatus.DELIVERED,
        accepted_read_back,
    ),
    Scenario(
        "placement-in-input",
        "outbox intake (production's), the placement in the workflow's input: shipped from "
        "Newark, delivered",
        OrderStatus.DELIVERED,
        accepted_through_the_outbox,
    ),
    Scenario(
        "placed-by-workflow",
        "recorded with the update-with-start intake (removed): the workflow sourced it, "
        f"shipped, delivered{THROUGH_THE_OUTBOX_NOW}",
        OrderStatus.DELIVERED,
        accepted_through_the_outbox,
    ),
    Scenario(
        "split",
        f"two parcels from two centres, shipped in parallel, delivered{UPDATE_WITH_START}",
        OrderStatus.DELIVERED,
        split_order,
        lambda: an_order(OrderLine("SKU-0001", 2), OrderLine("SKU-0002", 1)),
    ),
    Scenario(
        "cancel-before-dispatch",
        f"cancelled by the customer before dispatch: stock released{UPDATE_WITH_START}",
        OrderStatus.CANCELLED,
        cancelled_before_dispatch,
    ),
    Scenario(
        "change-destination",
        "moved to Seattle before dispatch: re-sourced, the parcels replanned, delivered"
        f"{UPDATE_WITH_START}",
        OrderStatus.DELIVERED,
        moved_before_dispatch,
        lambda: an_order(OrderLine("SKU-0012", 2), destination=MANHATTAN),
    ),
    Scenario(
        "backorder-received",
        f"backordered, a receipt arrives, allocated, shipped, delivered{UPDATE_WITH_START}",
        OrderStatus.DELIVERED,
        backordered_then_received,
        backorder(48),
    ),
    Scenario(
        "backorder-timeout",
        f"backordered, no stock within its 6 h: cancelled with its reason{UPDATE_WITH_START}",
        OrderStatus.CANCELLED,
        accepted_through_the_outbox,
        backorder(6),
    ),
    Scenario(
        "exhausted-retries",
        "the FC's ship step exhausts its retries: failed, stock given back (compensation)"
        f"{UPDATE_WITH_START}",
        OrderStatus.FAILED,
        accepted_through_the_outbox,
        fault_rate=1.0,
    ),
)


async def record(scenario: Scenario, server: str) -> dict[str, Any]:
    """Run the scenario's order to its end; its history as JSON-ready data."""
    order = scenario.order_request()
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'doms.db'}"
        await asyncio.to_thread(upgrade_to_head, url)
        await seed_network_spec(url)
        engine = create_engine(url)
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=server, identity=IDENTITY
        )
        try:
            await search_attributes.register(env.client)
            spec = load_network_spec(None)
            sessions = session_factory(engine)
            activities = OrderActivities(sessions, spec, FaultInjector(scenario.fault_rate))
            async with AsyncExitStack() as workers:
                for worker in order_workers(env.client, TASK_QUEUE, activities, spec.network):
                    await workers.enter_async_context(worker)
                run = Recording(env, sessions, spec, TASK_QUEUE)
                await scenario.drive(run, order)
                outcome = await run.outcome(order)
                if outcome.status is not scenario.expected:
                    raise AssertionError(f"{scenario.name} ended {outcome}")
                history = await run.handle(order).fetch_history()
        finally:
            await env.shutdown()
            await engine.dispose()
    return portable(history.to_json_dict())


def portable(history: dict[str, Any]) -> dict[str, Any]:
    """The history without what ties it to the recording machine, for the repository.

    Stack traces name source paths: they are diagnostics, never replayed. The check after
    looks into the payloads too (base64 in the JSON) for a path or the host's name.
    """
    decoded: list[str] = []

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            if isinstance(value.get("data"), str):
                decoded.append(base64.b64decode(value["data"]).decode(errors="replace"))
            return {k: clean(v) for k, v in value.items() if k != "stackTrace"}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    cleaned: dict[str, Any] = clean(history)
    text = "\n".join([json.dumps(cleaned), *decoded])
    for local in (str(Path(__file__).resolve().parents[2]), socket.gethostname()):
        if local in text:
            raise AssertionError(f"the history still names {local!r}")
    return cleaned


def write(name: str, history: dict[str, Any]) -> Path:
    path = HISTORIES / f"{name}.json"
    path.write_text(json.dumps(history, indent=1, sort_keys=True) + "\n")
    return path


def temporal_test_server() -> str:
    path = Path(sys.executable).parent / "temporal-test-server"
    if not path.exists():
        raise SystemExit(f"{path} is missing: run `make install` (it installs the test extras)")
    return str(path)


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="scenarios to record (default: every missing)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="re-record existing histories (only for one recorded wrongly; never to make a "
        "replay failure go away)",
    )
    args = parser.parse_args(argv)
    by_name = {s.name: s for s in SCENARIOS}
    if args.list:
        for scenario in SCENARIOS:
            present = "recorded" if (HISTORIES / f"{scenario.name}.json").exists() else "missing"
            print(f"{scenario.name:32} {present:8}  {scenario.summary}")
        return 0
    unknown = sorted(set(args.names) - set(by_name))
    if unknown:
        parser.error(f"no scenario {', '.join(unknown)}; --list shows them")
    chosen = [by_name[n] for n in args.names] if args.names else list(SCENARIOS)
    HISTORIES.mkdir(exist_ok=True)
    server = temporal_test_server()
    # exhausted-retries fails its ship step on purpose: no traceback per attempt.
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    for scenario in chosen:
        path = HISTORIES / f"{scenario.name}.json"
        if path.exists() and not args.overwrite:
            print(f"{scenario.name}: kept {path.name} (recorded before)")
            continue
        history = await record(scenario, server)
        write(scenario.name, history)
        events = len(history["events"])
        print(f"{scenario.name}: {events} events, {path.stat().st_size} bytes -> {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
