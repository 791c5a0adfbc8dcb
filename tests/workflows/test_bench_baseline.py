"""The baseline workflow of `doms bench system`: three regular activities, each completed.

On the dev server, as in the benchmark: the time-skipping test server would skip ahead to
the activities' timeouts while the workflows wait on one another's slots.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from doms.bench_baseline import WORKFLOW_NAME, run_baseline
from doms.temporal_server import find_temporal_binary


@pytest.fixture
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(find_temporal_binary()),
        dev_server_extra_args=["--log-level", "warn"],
    )
    yield env
    await env.shutdown()


async def test_every_baseline_workflow_completes_through_three_regular_activities(
    dev_server: WorkflowEnvironment,
) -> None:
    client = dev_server.client
    lines: list[str] = []

    figures = await run_baseline(client, count=6, concurrency=2, report=lines.append)

    assert (figures.workflows, figures.concurrency) == (6, 2)
    assert figures.seconds > 0 and figures.workflows_per_second > 0
    assert lines[-1] == "baseline: 6/6 workflows completed"
    workflows = [w async for w in client.list_workflows(f"WorkflowType = '{WORKFLOW_NAME}'")]
    assert len(workflows) == 6
    history = await client.get_workflow_handle(workflows[0].id).fetch_history()
    scheduled = [
        event
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert [e.activity_task_scheduled_event_attributes.activity_type.name for e in scheduled] == [
        "BenchReserve",
        "BenchCharge",
        "BenchShip",
    ]
