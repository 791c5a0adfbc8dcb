"""`doms chaos`: place a batch of orders, SIGKILL the worker (and the Temporal dev server)
while they run, then check that every order ended exactly once and stock was conserved.

The stack is `doms up`'s, started here on a fresh var dir and ports of its own
(doms/chaos_stack.py). Kills are triggered by what the orders are doing, not by a clock:
each waits until orders are in flight and the worker started after the previous kill has
moved at least one of them on, so no kill lands on an idle or still-starting system. The
checks are store/audit.py's (the app database) plus one workflow run per order (Temporal).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus

from domain.network import Market
from domain.network_spec import NetworkSpec
from domain.orders import FINAL_STATUSES, OrderStatus, OrderType
from doms.chaos_stack import ChaosStack
from doms.network_file import load_network_spec
from doms.processes import StartupError
from doms.settings import Settings
from doms.temporal_client import connect_temporal
from loadtest.orders import OrderGenerator
from store.audit import Audit, StockSnapshot, audit_orders, first_few, stock_snapshot
from store.db import create_engine, session_factory
from store.models import OrderRow, ShipmentRow, StockRow
from workflows.search_attributes import ORDER_STATUS
from workflows.starter import order_workflow_id

Say = Callable[[str], None]

# At 36,000x a simulated hour lasts 0.1 s: an order lives a few real seconds, long enough
# to be caught in flight, short enough that a batch ends within a minute.
DEFAULT_SPEEDUP = 36_000.0
REQUEST_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.25
REPORT_EVERY_SECONDS = 3.0
IN_FLIGHT = (OrderStatus.RECEIVED, OrderStatus.ALLOCATED, OrderStatus.SHIPPED)
# Orders cancelled right after they are placed, while in flight: a share of the batch.
DEFAULT_CANCEL_SHARE = 0.1
# Domestic orders rewritten to hold two SKUs no regional centre stocks together: they split.
DEFAULT_SPLIT_SHARE = 0.2
SPLIT_PAIRS = 5
RUNNING_ORDERS = "WorkflowType = 'Order' AND ExecutionStatus = 'Running'"
NO_ANSWER = 0  # the status counted for a request that got no answer (a timeout)


class ChaosBroke(Exception):
    """The run could not be carried out (as opposed to a violation it found)."""


@dataclass(frozen=True)
class ChaosPlan:
    orders: int = 200
    worker_kills: int = 5
    temporal_restarts: int = 1
    relay_kills: int = 2
    kill_interval: float = 0.0  # at least this many seconds between two kills
    cancel_share: float = DEFAULT_CANCEL_SHARE
    split_share: float = DEFAULT_SPLIT_SHARE
    concurrency: int = 8  # POST /orders in flight at once
    seed: int = 42
    timeout: float = 300.0  # for every order to be final, after the last one is placed
    speedup: float = DEFAULT_SPEEDUP
    api_key: str | None = None  # the bearer token; default: the operator key the stack made


def api_headers(api_key: str | None) -> dict[str, str]:
    """Every request's headers, in one place: the API key, when there is one."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


@dataclass(frozen=True)
class WorkflowCheck:
    """What Temporal holds: one completed `Order` run per order that was not rejected."""

    workflows: int
    extra_runs: int  # runs beyond one per workflow id
    not_completed: list[str]
    missing: list[str]  # orders (not rejected) with no workflow at all
    disagreeing: list[str] = field(default_factory=list)  # final status differs from the DB

    @property
    def violations(self) -> list[str]:
        found = []
        if self.extra_runs:
            found.append(f"{self.extra_runs} extra workflow runs")
        if self.not_completed:
            found.append(f"workflows not completed: {first_few(self.not_completed)}")
        if self.missing:
            found.append(f"orders without a workflow: {first_few(self.missing)}")
        if self.disagreeing:
            found.append(f"workflow and database disagree: {first_few(self.disagreeing, sep='; ')}")
        return found


@dataclass
class ChaosReport:
    plan: ChaosPlan
    worker_kills: int = 0
    temporal_restarts: int = 0
    relay_kills: int = 0
    placed: int = 0
    refused: Counter[int] = field(default_factory=Counter)  # POST /orders answers not 201
    cancels: Counter[int] = field(default_factory=Counter)  # cancel answers by status code
    cancelled_ids: list[str] = field(default_factory=list)  # cancels answered 200
    kills_with_orders_in_flight: list[int] = field(default_factory=list)
    unplanned_exits: list[str] = field(default_factory=list)
    seconds: float = 0.0
    audit: Audit | None = None
    workflows: WorkflowCheck | None = None
    cancelled_but_not_cancelled: list[str] = field(default_factory=list)

    @property
    def violations(self) -> list[str]:
        found = list(self.audit.violations) if self.audit else ["no audit"]
        found += self.workflows.violations if self.workflows else ["no workflow check"]
        if self.cancelled_but_not_cancelled:
            found.append(
                "orders whose cancel was accepted but ended otherwise: "
                + first_few(self.cancelled_but_not_cancelled)
            )
        if self.unplanned_exits:
            found.append(f"processes exited unasked: {'; '.join(self.unplanned_exits)}")
        return found

    def summary(self) -> str:
        audit, workflows = self.audit, self.workflows
        rows = [
            ("worker kills", str(self.worker_kills)),
            ("Temporal restarts", str(self.temporal_restarts)),
            ("relay kills", str(self.relay_kills)),
            ("in flight at kills", ", ".join(map(str, self.kills_with_orders_in_flight)) or "-"),
            ("orders placed", f"{self.placed} of {self.plan.orders}"
             + (f"; refused {dict(self.refused)}" if self.refused else "")),
            ("cancels asked", _codes(self.cancels)),
        ]  # fmt: skip
        if audit is not None:
            final = ", ".join(f"{status} {count}" for status, count in audit.by_status.items())
            rows += [
                ("final states", f"{final}; not final {len(audit.not_final)}"),
                ("split orders", str(audit.split_orders)),
                ("duplicate shipments", str(audit.duplicate_shipments)),
                ("stock delta", str(audit.stock_delta)),
            ]
        if workflows is not None:
            rows.append(
                ("workflow runs", f"{workflows.workflows} workflows, {workflows.extra_runs} "
                 f"extra runs, {len(workflows.not_completed)} not completed, "
                 f"{len(workflows.disagreeing)} disagreeing with the database")
            )  # fmt: skip
        rows.append(("took", f"{self.seconds:.1f} s"))
        violations = self.violations
        rows.append(("verdict", "OK" if not violations else "VIOLATIONS: " + "; ".join(violations)))
        return "\n".join(f"{label:<20}{value}" for label, value in rows)


def _codes(counts: Counter[int]) -> str:
    return ", ".join(f"{code}: {n}" for code, n in sorted(counts.items())) or "none"


# --- the run ---------------------------------------------------------------------------------


async def run_chaos(plan: ChaosPlan, var_dir: Path, say: Say) -> ChaosReport:
    """Start a stack in `var_dir`, run the plan on it, check, stop it; the report says how
    it went. Raises ChaosBroke when the stack could not be started or driven."""
    report = ChaosReport(plan)
    stack = ChaosStack(var_dir, plan.speedup)
    started = time.monotonic()
    say = _timed(say, started)
    say(f"starting the stack in {var_dir} (speedup {plan.speedup:g})")
    try:
        await stack.start()
        await _run_on(stack, plan, report, say)
    except StartupError as error:
        raise ChaosBroke(str(error)) from error
    finally:
        stack.stop()
        report.seconds = time.monotonic() - started
    return report


async def _run_on(stack: ChaosStack, plan: ChaosPlan, report: ChaosReport, say: Say) -> None:
    engine = create_engine(stack.settings.app_database_url)
    sessions = session_factory(engine)
    try:
        async with sessions() as session:
            before = await stock_snapshot(session)
            pairs = await split_pairs(session, load_network_spec(stack.settings.network_file))
        bodies = order_bodies(plan, pairs)
        async with httpx.AsyncClient(
            base_url=stack.api_url,
            timeout=REQUEST_TIMEOUT_SECONDS,
            headers=api_headers(plan.api_key or stack.operator_key),
        ) as http:
            placed: list[str] = []
            placing = asyncio.create_task(_place_orders(http, plan, bodies, report, placed, say))
            await _break_things(stack, plan, report, sessions, placing, say)
            await placing
        report.placed = len(placed)
        await _wait_all_final(stack, sessions, plan.timeout, say)
        report.unplanned_exits = list(stack.unplanned_exits)
        await _check(stack.settings, sessions, before, report)
    finally:
        await engine.dispose()


async def split_pairs(session: AsyncSession, spec: NetworkSpec) -> list[tuple[str, str]]:
    """Pairs of SKUs that no domestic regional centre holds both of (from its stock)."""
    regional = [
        centre.id
        for centre in spec.network.centres
        if not centre.central and Market.DOMESTIC in centre.markets
    ]
    holders: dict[str, set[str]] = {}
    rows = await session.execute(
        select(StockRow.sku, StockRow.fc_id).where(
            StockRow.fc_id.in_(regional), StockRow.available > 0
        )
    )
    for sku, fc_id in rows:
        holders.setdefault(sku, set()).add(fc_id)
    pairs: list[tuple[str, str]] = []
    used: set[str] = set()  # each SKU in one pair: the split orders spread over centres
    for first, second in itertools.combinations(sorted(holders), 2):
        fresh = len(pairs) < SPLIT_PAIRS and not {first, second} & used
        if fresh and not holders[first] & holders[second]:
            pairs.append((first, second))
            used |= {first, second}
    return pairs


def order_bodies(plan: ChaosPlan, pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The generator's mix of orders, a share of the domestic ones made to split."""
    generator, choose = OrderGenerator(plan.seed), random.Random(plan.seed + 1)
    bodies = [generator.next_order() for _ in range(plan.orders)]
    for body in bodies:
        domestic = body["order_type"] != OrderType.INTERNATIONAL
        if pairs and domestic and choose.random() < plan.split_share:
            first, second = choose.choice(pairs)
            body["lines"] = [{"sku": first, "quantity": 1}, {"sku": second, "quantity": 1}]
    return bodies


async def _place_orders(
    http: httpx.AsyncClient,
    plan: ChaosPlan,
    bodies: list[dict[str, Any]],
    report: ChaosReport,
    placed: list[str],
    say: Say,
) -> None:
    """POST the batch, `plan.concurrency` at a time; cancel a share of them right after."""
    choose = random.Random(plan.seed)
    cancel = [choose.random() < plan.cancel_share for _ in bodies]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(bodies)):
        queue.put_nowait(index)

    async def placer() -> None:
        while not queue.empty():
            index = queue.get_nowait()
            response = await _post(http, "/orders", bodies[index])
            if response is None or response.status_code != httpx.codes.CREATED:
                report.refused[response.status_code if response else NO_ANSWER] += 1
                continue
            order_id = response.json()["order_id"]
            placed.append(order_id)
            if cancel[index]:
                answer = await _post(http, f"/orders/{order_id}/cancel", {"reason": "chaos"})
                report.cancels[answer.status_code if answer else NO_ANSWER] += 1
                if answer is not None and answer.status_code == httpx.codes.OK:
                    report.cancelled_ids.append(order_id)

    await asyncio.gather(*(placer() for _ in range(plan.concurrency)))
    say(f"placed {len(placed)} orders ({sum(report.refused.values())} refused)")


async def _post(http: httpx.AsyncClient, path: str, body: Any) -> httpx.Response | None:
    """None when no answer came (the API may still have acted: the audit reads the database)."""
    try:
        return await http.post(path, json=body)
    except httpx.TransportError:
        return None


async def _break_things(
    stack: ChaosStack,
    plan: ChaosPlan,
    report: ChaosReport,
    sessions: async_sessionmaker[AsyncSession],
    placing: asyncio.Task[None],
    say: Say,
) -> None:
    """Kill as planned, each time once orders are in flight and the current worker has
    moved one on; stop early when the batch is placed and nothing is left in flight."""
    events = kill_schedule(plan.worker_kills, plan.temporal_restarts, plan.relay_kills)
    progress_at_start = await _progress(sessions)
    last_kill = -float("inf")
    next_report = time.monotonic()
    while events:
        stack.restart_if_exited("worker")
        stack.restart_if_exited("relay")
        in_flight = await _in_flight(sessions)
        progress = await _progress(sessions)
        now = time.monotonic()
        if now >= next_report:
            say(
                f"in flight {in_flight}, shipped or ended {progress}; worker kills "
                f"{report.worker_kills}/{plan.worker_kills}, Temporal restarts "
                f"{report.temporal_restarts}/{plan.temporal_restarts}, relay kills "
                f"{report.relay_kills}/{plan.relay_kills}"
            )
            next_report = now + REPORT_EVERY_SECONDS
        if placing.done() and placing.exception() is not None:
            await placing  # raises what broke it
        if placing.done() and in_flight == 0:
            say(f"no order left in flight; {len(events)} kills not made")
            return
        ready = (
            in_flight > 0
            and progress > progress_at_start
            and stack.worker_serving()
            and now - last_kill >= plan.kill_interval
        )
        if ready:
            event = events.pop(0)
            report.kills_with_orders_in_flight.append(in_flight)
            if event == "worker":
                report.worker_kills += 1
                say(f"SIGKILL worker #{report.worker_kills} with {in_flight} orders in flight")
                stack.kill("worker")
            elif event == "relay":
                report.relay_kills += 1
                say(f"SIGKILL relay #{report.relay_kills} with {in_flight} orders in flight")
                stack.kill("relay")
            else:
                report.temporal_restarts += 1
                say(f"SIGKILL Temporal #{report.temporal_restarts} with {in_flight} in flight")
                await stack.kill_and_restart_temporal()
                say("Temporal is back on the same database file")
            last_kill = time.monotonic()
            progress_at_start = await _progress(sessions)
        await asyncio.sleep(POLL_SECONDS)  # a polling interval, not a synchronisation


def _timed(say: Say, started: float) -> Say:
    """Each line prefixed with the seconds since the run started."""
    return lambda message: say(f"[{time.monotonic() - started:6.1f} s] {message}")


def kill_schedule(worker_kills: int, temporal_restarts: int, relay_kills: int = 0) -> list[str]:
    """Temporal restarts spread evenly among the worker kills, after the first of them:
    e.g. 5 and 1 give worker, worker, temporal, worker, worker, worker. Relay kills are then
    spread evenly among those: 5, 1 and 2 give worker, worker, relay, temporal, worker, relay,
    worker, worker."""
    events = ["worker"] * worker_kills
    for n in range(temporal_restarts, 0, -1):
        at = worker_kills * n // (temporal_restarts + 1)
        events.insert(max(at, min(1, worker_kills)), "temporal")
    others = len(events)
    for n in range(relay_kills, 0, -1):
        events.insert(others * n // (relay_kills + 1), "relay")
    return events


async def _wait_all_final(
    stack: ChaosStack,
    sessions: async_sessionmaker[AsyncSession],
    within: float,
    say: Say,
) -> None:
    """Poll until every order is final in the app database and no order workflow runs on
    (its last step commits before its workflow completes), or `within` seconds pass: the
    checks then name what is still in flight. Every order, not only those answered 201: one
    whose answer was lost is audited too, so it is waited for too."""
    deadline = time.monotonic() + within
    next_report = time.monotonic() + REPORT_EVERY_SECONDS
    client = await connect_temporal(stack.settings)
    while True:
        pending = await _not_final(sessions)
        running = (await client.count_workflows(RUNNING_ORDERS)).count
        if not pending and not running:
            break
        stack.restart_if_exited("worker")
        if time.monotonic() > deadline:
            say(f"gave up waiting after {within:.0f} s: {pending} orders not final")
            return
        if time.monotonic() >= next_report:
            say(f"waiting: {pending} orders not final, {running} order workflows running")
            next_report = time.monotonic() + REPORT_EVERY_SECONDS
        await asyncio.sleep(POLL_SECONDS)  # a polling interval, not a synchronisation
    say("every order is final and its workflow completed")


async def _check(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    before: StockSnapshot,
    report: ChaosReport,
) -> None:
    async with sessions() as session:
        report.audit = await audit_orders(session, before)
        rows = await session.execute(select(OrderRow.order_id, OrderRow.status))
        statuses = {order_id: status for order_id, status in rows}
    report.cancelled_but_not_cancelled = sorted(
        order_id
        for order_id in report.cancelled_ids
        if statuses.get(order_id) != OrderStatus.CANCELLED
    )
    client = await connect_temporal(settings)
    report.workflows = await workflow_check(client, statuses)


async def workflow_check(client: Client, statuses: Mapping[str, str]) -> WorkflowCheck:
    """One completed `Order` run per order (workflow id `order-<order_id>`) that was not
    rejected at intake, ending in the status the app database holds for the order."""
    order_of = {order_workflow_id(order_id): order_id for order_id in statuses}
    runs: Counter[str] = Counter()
    not_completed: list[str] = []
    disagreeing: list[str] = []
    async for execution in client.list_workflows("WorkflowType = 'Order'"):
        runs[execution.id] += 1
        order_id = order_of.get(execution.id, execution.id)
        if execution.status != WorkflowExecutionStatus.COMPLETED:
            not_completed.append(f"{execution.id} {execution.status}")
        said = execution.typed_search_attributes.get(ORDER_STATUS)
        if said != statuses.get(order_id):
            disagreeing.append(f"{order_id}: workflow {said}, database {statuses.get(order_id)}")
    missing = [
        order_id
        for order_id, status in statuses.items()
        if status != OrderStatus.REJECTED and order_workflow_id(order_id) not in runs
    ]
    extra = sum(count - 1 for count in runs.values())
    return WorkflowCheck(
        len(runs), extra, sorted(not_completed), sorted(missing), sorted(disagreeing)
    )


async def _in_flight(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        query = select(func.count()).where(OrderRow.status.in_(IN_FLIGHT))
        return int(await session.scalar(query) or 0)


async def _progress(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Steps the worker has taken: parcels shipped plus orders ended after allocation."""
    async with sessions() as session:
        shipped = await session.scalar(select(func.count()).select_from(ShipmentRow))
        ended = await session.scalar(
            select(func.count()).where(OrderRow.status.in_(FINAL_STATUSES - {OrderStatus.REJECTED}))
        )
        return int(shipped or 0) + int(ended or 0)


async def _not_final(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        query = select(func.count()).where(OrderRow.status.not_in(FINAL_STATUSES))
        return int(await session.scalar(query) or 0)


# --- the command -----------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = ChaosPlan()
    parser.add_argument(
        "--orders",
        type=_positive_int,
        default=defaults.orders,
        help=f"orders to place (default {defaults.orders})",
    )
    parser.add_argument(
        "--worker-kills",
        type=_count,
        default=defaults.worker_kills,
        help=f"times to SIGKILL the worker (default {defaults.worker_kills})",
    )
    parser.add_argument(
        "--restart-temporal",
        type=_count,
        default=defaults.temporal_restarts,
        metavar="N",
        help="times to SIGKILL and restart the Temporal dev "
        f"server (default {defaults.temporal_restarts})",
    )
    parser.add_argument(
        "--relay-kills",
        type=_count,
        default=defaults.relay_kills,
        help=f"times to SIGKILL the outbox relay (default {defaults.relay_kills})",
    )
    parser.add_argument(
        "--kill-interval",
        type=float,
        default=defaults.kill_interval,
        metavar="SECONDS",
        help="at least this long between two kills "
        "(default: as soon as orders are in flight and the worker moved one on)",
    )
    parser.add_argument(
        "--cancel-share",
        type=_share,
        default=defaults.cancel_share,
        help="share of orders cancelled right after they are placed "
        f"(default {defaults.cancel_share:g})",
    )
    parser.add_argument(
        "--split-share",
        type=_share,
        default=defaults.split_share,
        help="share of domestic orders made of two SKUs no regional centre holds together, "
        f"so that they split (default {defaults.split_share:g})",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        default=defaults.concurrency,
        help=f"orders placed at once (default {defaults.concurrency})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=defaults.seed,
        help=f"seed of the orders and cancels (default {defaults.seed})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=defaults.timeout,
        metavar="SECONDS",
        help="how long to wait for every order to be final after the kills "
        f"(default {defaults.timeout:g})",
    )
    parser.add_argument(
        "--speedup",
        type=float,
        default=defaults.speedup,
        help=f"simulated seconds per real second (default {defaults.speedup:g})",
    )
    parser.add_argument(
        "--var-dir",
        type=Path,
        help="where the stack keeps its databases and logs (default: a new temporary "
        "directory, kept)",
    )


def run_command(_: Settings, args: argparse.Namespace) -> int:
    plan = ChaosPlan(
        orders=args.orders,
        worker_kills=args.worker_kills,
        temporal_restarts=args.restart_temporal,
        relay_kills=args.relay_kills,
        kill_interval=args.kill_interval,
        cancel_share=args.cancel_share,
        split_share=args.split_share,
        concurrency=args.concurrency,
        seed=args.seed,
        timeout=args.timeout,
        speedup=args.speedup,
    )
    var_dir = args.var_dir or Path(tempfile.mkdtemp(prefix="doms-chaos-"))
    try:
        report = asyncio.run(run_chaos(plan, var_dir, _say))
    except ChaosBroke as error:
        print(f"doms chaos: {error}", file=sys.stderr)
        return 2
    print(report.summary(), flush=True)
    print(f"logs and databases: {var_dir}", flush=True)
    return 1 if report.violations else 0


def _say(message: str) -> None:
    print(f"doms chaos: {message}", flush=True)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value
