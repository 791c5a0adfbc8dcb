"""Fault injection, so that durable retries and recovery can be watched and tested.

With DOMS_FAULT_RATE=0.3 three calls in ten to the simulated WMS and carrier fail
transiently; Temporal retries them and the Temporal UI shows each attempt. A step that
exhausts its retries is compensated.

With DOMS_FAULT_CRASH_AFTER_ACCEPT=<marker file> the API process dies once, right after an
order's transaction commits and before it answers: the window an Idempotency-Key retry
must survive without making a second order.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

CRASH_EXIT_CODE = 70  # EX_SOFTWARE: a deliberate crash, told apart from other exits


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


class CrashPoint:
    """Kills the process the first time it is reached: while `marker` does not exist yet."""

    def __init__(self, marker: Path | None) -> None:
        self._marker = marker

    def reached(self) -> None:
        if self._marker is None:
            return
        try:  # created before dying, so that the restarted process runs on
            os.close(os.open(self._marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        os._exit(CRASH_EXIT_CODE)  # no cleanup, no answer: as a killed process
