"""The worker writes the workflow modules' bytecode, which the sandbox then reads instead of
compiling their source for every new workflow run (doms/worker.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import workflows.order
from doms.worker import cache_workflow_bytecode


def test_the_workflow_module_has_current_bytecode_after_the_worker_cached_it() -> None:
    source = Path(workflows.order.__file__)
    cached = Path(importlib.util.cache_from_source(str(source)))
    cached.unlink(missing_ok=True)

    cache_workflow_bytecode()

    header = cached.read_bytes()[:16]
    assert header[:4] == importlib.util.MAGIC_NUMBER
    # A timestamp-based pyc records the source's mtime; Python uses it only while they match.
    assert int.from_bytes(header[8:12], "little") == int(source.stat().st_mtime) & 0xFFFFFFFF
