"""Fixtures of the workflow tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from domain.network_spec import NetworkSpec
from doms.network_file import load_network_spec


@pytest.fixture(scope="session")
def network_spec() -> NetworkSpec:
    return load_network_spec(None)


@pytest.fixture
async def worker_stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as stack:
        yield stack
