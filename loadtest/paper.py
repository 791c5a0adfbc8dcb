"""REFERENCE VALUES: the paper's published figures, printed beside our results.

These are *not* our results. They are the numbers of the paper's Tables 4.1-4.3 ("A
Framework for Scalable E-Commerce Solutions: Insights from Distributed Order Management
Systems"), kept here only so the experiment report can compare against them. Nothing in
DOMS is tuned to reproduce them, and no table of ours is ever filled from this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

CENTRALIZED, DISTRIBUTED = "centralized", "distributed"
MODES: tuple[str, ...] = (CENTRALIZED, DISTRIBUTED)
LEVELS: tuple[str, ...] = ("low", "medium", "high")
ORDER_TYPES: tuple[str, ...] = ("standard", "expedited", "international")


@dataclass(frozen=True, slots=True)
class PaperLoad:
    """One row of the paper's Table 4.1 (system performance under load)."""

    orders_per_second: float
    response_ms: float

    @property
    def orders_per_hour(self) -> float:
        return self.orders_per_second * 3600


# Paper, Table 4.1: orders processed per second and average response time per load level.
PAPER_TABLE_4_1: Mapping[str, PaperLoad] = MappingProxyType(
    {
        "low": PaperLoad(200.0, 50.0),
        "medium": PaperLoad(500.0, 120.0),
        "high": PaperLoad(1000.0, 250.0),
    }
)

# Paper, Table 4.2: mean order fulfilment time T_f in hours, per order type and mode.
PAPER_TABLE_4_2_HOURS: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "standard": MappingProxyType({CENTRALIZED: 6.0, DISTRIBUTED: 3.0}),
        "expedited": MappingProxyType({CENTRALIZED: 4.0, DISTRIBUTED: 2.0}),
        "international": MappingProxyType({CENTRALIZED: 10.0, DISTRIBUTED: 6.0}),
    }
)

# Paper, Table 4.3: mean customer satisfaction (1-5) per order type and mode.
PAPER_TABLE_4_3_SCORES: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "standard": MappingProxyType({CENTRALIZED: 3.8, DISTRIBUTED: 4.5}),
        "expedited": MappingProxyType({CENTRALIZED: 4.2, DISTRIBUTED: 4.7}),
        "international": MappingProxyType({CENTRALIZED: 3.5, DISTRIBUTED: 4.4}),
    }
)
