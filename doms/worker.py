"""The worker process: the order workflow with its local activities, and one task queue per FC."""

from __future__ import annotations

import asyncio
import compileall
import contextlib
import logging
import signal
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from temporalio import client as temporal_client
from temporalio import worker as temporal_worker
from temporalio.client import Client
from temporalio.worker import Replayer, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

import workflows
from activities.faults import FaultInjector
from activities.orders import OrderActivities
from domain.network import Network
from doms.network_file import load_network_spec
from doms.settings import Settings
from doms.temporal_client import connect_temporal
from observability import metrics
from observability.tracing import configure_tracing, temporal_interceptors, trace_engine
from store.db import create_engine, session_factory
from workflows.order import OrderWorkflow

logger = logging.getLogger("doms.worker")

# Our pure modules are deterministic; passing them through saves re-importing them in
# the sandbox on every workflow activation. OpenTelemetry too, as Temporal's own
# OpenTelemetry plugin does: the tracing interceptor's spans and context must be the
# process's, not a fresh copy per workflow run.
PASSTHROUGH_MODULES = (
    "domain",
    "activities",
    "workflows.search_attributes",
    "sqlalchemy",
    "opentelemetry",
)
# The workflows the orders worker runs. A replayer of recorded histories runs the same ones
# in the same sandbox (order_replayer), so a change that breaks replay fails the tests.
ORDER_WORKFLOWS: tuple[type, ...] = (OrderWorkflow,)


def order_workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


def order_replayer(
    interceptors: Sequence[temporal_client.Interceptor] = (),
    workflows: Sequence[type] = ORDER_WORKFLOWS,
) -> Replayer:
    """A replayer configured as the orders worker: its workflows, sandbox and interceptors.

    `interceptors` are the client's, as `run_worker` connects with them (the worker takes
    those that also intercept workers); the data converter is the default one on both.
    `workflows` is for tests that replay a changed workflow.
    """
    return Replayer(
        workflows=list(workflows),
        workflow_runner=order_workflow_runner(),
        interceptors=[i for i in interceptors if isinstance(i, temporal_worker.Interceptor)],
    )


def cache_workflow_bytecode() -> None:
    """Write the bytecode of the workflow modules, if it is missing or stale.

    The sandbox imports the workflow modules afresh for every new workflow run. Without
    bytecode on disk (PYTHONDONTWRITEBYTECODE, common in containers and set on our CI
    machines) each import compiles their source again: a sixth of the worker's CPU per
    order in `doms bench system`. Python reads bytecode even when told not to write it, so
    writing it once here is enough; where the install is read-only, nothing changes.
    """
    for directory in workflows.__path__:
        compileall.compile_dir(directory, quiet=2)


def order_workers(
    client: Client,
    task_queue: str,
    activities: OrderActivities,
    network: Network,
    fc_ids: Iterable[str] | None = None,
    orders: bool = True,
    cache_size: int = Settings.model_fields["workflow_cache_size"].default,
    db_steps: int = Settings.model_fields["worker_db_steps"].default,
    ship_steps: int = Settings.model_fields["worker_ship_steps"].default,
    workflow_tasks: int = Settings.model_fields["worker_workflow_tasks"].default,
    workflow_threads: int = Settings.model_fields["worker_workflow_threads"].default,
) -> list[Worker]:
    """The order workflow's worker (if `orders`) and a worker per FC task queue.

    `fc_ids` None means every FC of the network; a regional worker names its own. The order
    worker's thread pool for workflow tasks is the caller's to shut down once the workers
    have stopped (`shutdown_workflow_threads`).
    """
    slots = WorkflowSlots(workflow_tasks, workflow_threads, db_steps)
    workers = [_orders_worker(client, task_queue, activities, cache_size, slots)] if orders else []
    for fc_id in fc_ids if fc_ids is not None else network.ids():
        workers.append(
            Worker(
                client,
                task_queue=network.get(fc_id).task_queue,
                activities=[activities.ship],
                # As the order worker's database steps: with the SDK's default of 100 per
                # FC (1,000 for ten FCs in one process), ship steps queued for connections
                # and SQLite's writer queue past its 10 s, failed and retried; the API's
                # writes starved behind them (1,000 orders: 204 POSTs failed, 3.6 orders/s;
                # with 2 per FC and 12 order steps: none failed, 10.0 orders/s).
                max_concurrent_activities=ship_steps,
            )
        )
    return workers


class WorkflowSlots:
    """How much of the order workflow one worker takes on at once, sized for 2 cores.

    - `tasks` (DOMS_WORKER_WORKFLOW_TASKS, 16): workflow tasks held at once, Temporal's
      `max_concurrent_workflow_tasks`. The rest wait on the server, in the task queue, where
      no workflow task timeout runs. The SDK's default is 100: a burst put 100 tasks in the
      worker at once, each advancing at a hundredth of the one core the GIL gives them all.
      A task's clock (Temporal's 5 s warning, its 10 s timeout) runs from poll to completion,
      its local activities included, so a task waiting for one of the `db_steps` slots waits
      inside its own time. 16 is the 12 database steps in progress plus two tasks for each
      thread, one running and one ready.
    - `threads` (DOMS_WORKER_WORKFLOW_THREADS, 2): threads that run workflow code. The SDK's
      default is one per slot, and 500 when the slots are not set. Sandboxed workflow code is
      pure Python: it runs under the GIL, one thread at a time, beside the event loop that
      runs the database steps and talks to the server, so more threads only split one core
      between more tasks and make each slower; two keep one slow activation (a replay of an
      evicted workflow's history) from holding up all the others.

    A task's time is then bounded by the few tasks ahead of it times an activation's CPU,
    plus its database step, not by the size of a burst (EVALUATION.md, "Overload").
    """

    def __init__(self, tasks: int, threads: int, db_steps: int) -> None:
        if tasks < 2 or threads < 1:  # the SDK needs 2 slots for a sticky (cached) queue
            raise ValueError(f"need tasks >= 2 and threads >= 1, got {tasks} and {threads}")
        self.tasks, self.threads, self.db_steps = tasks, threads, db_steps

    def executor(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(self.threads, thread_name_prefix="workflow-task")


def shutdown_workflow_threads(workers: Iterable[Worker]) -> None:
    """Stop the workflow-task threads of stopped workers (the SDK leaves a given pool open)."""
    for worker in workers:
        executor = worker.config().get("workflow_task_executor")
        if executor is not None:
            executor.shutdown(wait=False)


def _orders_worker(
    client: Client,
    task_queue: str,
    activities: OrderActivities,
    cache_size: int,
    slots: WorkflowSlots,
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(ORDER_WORKFLOWS),
        activities=[
            activities.allocate,
            activities.retry_backorder,
            activities.reallocate,
            activities.release,
            activities.record_delivery,
        ],
        workflow_runner=order_workflow_runner(),
        max_cached_workflows=cache_size,
        max_concurrent_workflow_tasks=slots.tasks,
        workflow_task_executor=slots.executor(),
        # The order's database steps are local activities timed out after 10 s, waits for a
        # pooled connection and this process's SQLite writer queue included. With the SDK's
        # default of 100 at once, a burst queued longer than that: steps were cancelled and
        # retried at the back of the queue, and 1,000 orders at 50 in flight crawled at
        # 6 orders/s with hundreds of failed steps. Waiting for a slot is not timed.
        max_concurrent_local_activities=slots.db_steps,
    )


async def run_worker(
    settings: Settings, fc_ids: list[str] | None = None, orders: bool = True
) -> None:
    """Serve the order workflow and FC queues until SIGINT/SIGTERM (see `doms worker`)."""
    spec = load_network_spec(settings.network_file)
    cache_workflow_bytecode()
    unknown = sorted(set(fc_ids or ()) - set(spec.network.ids()))
    if unknown:
        raise SystemExit(f"doms worker: no fulfilment centre {', '.join(unknown)} in the network")
    tracer_provider = configure_tracing("doms-worker")
    client = await connect_temporal(
        settings,
        interceptors=temporal_interceptors(tracer_provider),
        runtime=metrics.temporal_runtime(settings.metrics_host, settings.temporal_metrics_port),
    )
    engine = create_engine(settings.app_database_url)
    trace_engine(engine, tracer_provider)
    faults = FaultInjector(settings.fault_rate)
    sessions = session_factory(engine)
    activities = OrderActivities(sessions, spec, faults)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    workers = order_workers(
        client,
        settings.task_queue,
        activities,
        spec.network,
        fc_ids,
        orders,
        cache_size=settings.workflow_cache_size,
        db_steps=settings.worker_db_steps,
        ship_steps=settings.worker_ship_steps,
        workflow_tasks=settings.worker_workflow_tasks,
        workflow_threads=settings.worker_workflow_threads,
    )
    try:
        async with contextlib.AsyncExitStack() as stack:
            served = spec.network.ids() if fc_ids is None else fc_ids
            await stack.enter_async_context(
                metrics.worker_metrics(
                    settings.metrics_host, settings.metrics_port, sessions, served
                )
            )
            for worker in workers:
                await stack.enter_async_context(worker)
            queues = ", ".join(worker.task_queue for worker in workers)
            logger.info("serving %s on %s", queues, settings.temporal_address)
            await stop.wait()
            logger.info("stopping: finishing the tasks in hand")
    finally:
        shutdown_workflow_threads(workers)
        await engine.dispose()
