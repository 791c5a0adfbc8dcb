"""The baseline of `doms bench system`: the shape of Temporal's reference order app.

A workflow of three regular activities (reserve, charge, ship) that do no I/O, run on the
same Temporal server as DOMS. It tells what the server and the SDK allow on this machine, so
DOMS's end-to-end figure can be read as a ratio to it instead of in the abstract.

The workflow runs in the same sandbox as DOMS's (doms/worker.py): an unsandboxed runner
would be faster and flatter the baseline. This module is imported again inside the sandbox
for every workflow, so its top-level imports are kept to the standard library and temporalio
(both passed through); the worker's own imports happen inside `run_baseline`.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client

WORKFLOW_NAME = "BenchBaseline"
ACTIVITY_TIMEOUT = timedelta(seconds=30)


@activity.defn(name="BenchReserve")
async def reserve(order_id: str) -> str:
    return f"reserved {order_id}"


@activity.defn(name="BenchCharge")
async def charge(order_id: str) -> str:
    return f"charged {order_id}"


@activity.defn(name="BenchShip")
async def ship(order_id: str) -> str:
    return f"shipped {order_id}"


@workflow.defn(name=WORKFLOW_NAME)
class BenchBaselineWorkflow:
    @workflow.run
    async def run(self, order_id: str) -> str:
        # Regular activities, not local ones: each is scheduled through the server, as in
        # the reference app; that round trip is what the baseline measures.
        for step in (reserve, charge, ship):
            await workflow.execute_activity(step, order_id, start_to_close_timeout=ACTIVITY_TIMEOUT)
        return order_id


@dataclass(frozen=True)
class BaselineFigures:
    workflows: int
    concurrency: int
    seconds: float
    workflows_per_second: float  # completed workflows per second of wall time


async def run_baseline(
    client: Client,
    count: int,
    concurrency: int,
    report: Callable[[str], None] = lambda line: None,
) -> BaselineFigures:
    """Run `count` baseline workflows, at most `concurrency` at a time, on an in-process
    worker with a task queue of its own; wait for every result."""
    from temporalio.worker import Worker
    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

    from doms.worker import PASSTHROUGH_MODULES

    run = uuid.uuid4().hex[:8]
    task_queue = f"bench-baseline-{run}"
    runner = SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )
    slots = asyncio.Semaphore(concurrency)
    report_after = {math.ceil(count * tenth / 10) for tenth in range(1, 11)}
    done = 0

    async def one(index: int) -> None:
        nonlocal done
        async with slots:
            await client.execute_workflow(
                BenchBaselineWorkflow.run,
                f"{run}-{index}",
                id=f"bench-baseline-{run}-{index}",
                task_queue=task_queue,
            )
        done += 1
        if done in report_after:
            report(f"baseline: {done}/{count} workflows completed")

    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[BenchBaselineWorkflow],
        activities=[reserve, charge, ship],
        workflow_runner=runner,
    ):
        started = time.perf_counter()
        await asyncio.gather(*(one(index) for index in range(count)))
        seconds = time.perf_counter() - started
    return BaselineFigures(count, concurrency, seconds, count / seconds)
