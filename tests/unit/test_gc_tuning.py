from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from doms.gc_tuning import MIDDLE_THRESHOLD, OLDEST_THRESHOLD, YOUNG_THRESHOLD, tune_for_serving


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_start_up_objects_are_frozen_and_the_young_collected_less_often() -> None:
    start_up_object = {"a": ["cycle"]}

    tune_for_serving()

    assert gc.get_freeze_count() > 0
    assert not any(obj is start_up_object for obj in gc.get_objects())  # frozen: not walked
    assert gc.get_threshold() == (YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLDEST_THRESHOLD)
    # Full collections about as often as CPython's defaults (700, 10, 10): every 70,000.
    full_every = YOUNG_THRESHOLD * (MIDDLE_THRESHOLD + 1) * (OLDEST_THRESHOLD + 1)
    assert 0.5 <= full_every / 70_000 <= 2


@pytest.mark.usefixtures("restored_gc")
def test_objects_made_after_start_up_are_still_collected() -> None:
    tune_for_serving()

    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    first, second = Node(), Node()
    first.other, second.other = second, first  # a cycle: only the collector frees it
    watched = weakref.ref(first)
    del first, second
    assert watched() is not None

    gc.collect()

    assert watched() is None
