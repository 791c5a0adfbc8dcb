"""Fault injection for the simulated WMS and carrier, so durable retries can be watched.

With DOMS_FAULT_RATE=0.3 three calls in ten fail transiently; Temporal retries them and
the Temporal UI shows each attempt. A step that exhausts its retries is compensated.
"""

from __future__ import annotations

import random


class TransientFault(RuntimeError):
    """A deliberately injected, retryable failure."""


class FaultInjector:
    def __init__(self, rate: float, rng: random.Random | None = None) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be within 0..1, got {rate}")
        self._rate = rate
        self._rng = rng or random.Random()

    def maybe_fail(self, what: str) -> None:
        if self._rate and self._rng.random() < self._rate:
            raise TransientFault(f"injected fault: {what} did not answer")
