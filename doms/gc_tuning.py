"""Garbage-collector settings for the long-running processes: the API and the workers.

CPython collects its youngest objects after every 700 net allocations of container objects.
Objects that outlive a request or a workflow step by a second or two — a span queued for
its batch export, an order's session and rows until its transaction ends — are alive at
several such collections, get promoted to the oldest generation, and so bring on full
collections, which walk every object of the process, start-up's modules and classes
included (150-200 ms each in the worker). Measured with gc.callbacks over 600 orders
(`doms bench system`, tracing phase), the worker and the API spent 4.8 ms an order in the
collector untraced and 7.3 ms traced, most of it in full collections.

So, once a process has started and before it serves: collect once, freeze what survives
(start-up's objects, never garbage: full collections no longer walk them), and collect the
youngest generation after YOUNG_THRESHOLD net allocations instead of 700, the middle one at
every other young collection and the oldest, at most, at every other middle one: what lives
a second or two dies in the young generations, while full collections come about as often
as with CPython's defaults (every 80,000 against 70,000 net allocations). They have to: an
order workflow evicted from the worker's cache, or finished, leaves its sandbox (modules,
functions: cycles) as garbage in the oldest generation, and with full collections 28 times
rarer (only the young threshold raised) the worker held 770 MB with 10,000 orders in flight
against 224 MB before; with these settings 245 MB. Time in the collector fell to 1.8 ms an
order untraced and 2.1 ms traced.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000  # about two seconds of the worker's allocations under load
MIDDLE_THRESHOLD = 1  # a middle collection at every other young one
OLDEST_THRESHOLD = 1  # a full one, at most, at every other middle one


def tune_for_serving() -> None:
    """Call once, after start-up's imports and set-up, before serving."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLDEST_THRESHOLD)
