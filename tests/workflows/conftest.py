"""Fixtures of the workflow tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack

import pytest
from lifecycle import running_workers
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from activities.orders import OrderActivities
from domain.network_spec import NetworkSpec
from doms.network_file import load_network_spec
from workflows.order import LEFT_THE_LIFECYCLE


@pytest.fixture(scope="session")
def network_spec() -> NetworkSpec:
    return load_network_spec(None)


@pytest.fixture
async def worker_stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as stack:
        yield stack


@pytest.fixture
async def task_queue(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    worker_stack: AsyncExitStack,
) -> str:
    """A fresh task queue served by workers with the real activities."""
    activities = OrderActivities(sessions, network_spec)
    return await running_workers(time_skipping_env.client, activities, worker_stack)


@pytest.fixture(autouse=True)
def keeps_to_the_lifecycle(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every order these tests drive changes status only as domain/orders.py's table allows:
    the workflow logs a change it does not."""
    yield
    logged = caplog.get_records("call")
    left = [r.getMessage() for r in logged if str(r.msg).startswith(LEFT_THE_LIFECYCLE)]
    assert left == []
