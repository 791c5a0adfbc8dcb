"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from system import RunningSystem, system_env


@pytest.fixture(scope="module")
async def fast_system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningSystem]:
    """The system with time compressed 36,000 times: an order lives a few real seconds."""
    var_dir = tmp_path_factory.mktemp("doms-var")
    system = RunningSystem(var_dir, system_env(var_dir, speedup=36_000))
    await system.start()
    yield system
    assert system.stop() == 0, system.log_tail()
