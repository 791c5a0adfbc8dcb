"""Simulated time: model hours compressed into real seconds for live runs."""

from __future__ import annotations

from dataclasses import dataclass

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class SimClock:
    speedup: float  # simulated seconds per real second

    def __post_init__(self) -> None:
        if not self.speedup > 0:
            raise ValueError(f"speedup must be positive, got {self.speedup}")

    def real_seconds(self, sim_hours: float) -> float:
        return sim_hours * SECONDS_PER_HOUR / self.speedup

    def sim_hours(self, real_seconds: float) -> float:
        return real_seconds * self.speedup / SECONDS_PER_HOUR
