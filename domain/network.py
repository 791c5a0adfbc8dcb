"""The fulfilment network: one central centre and the regional ones around it."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

_CENTRE_ID = re.compile(r"[a-z0-9-]+")


def task_queue_of(fc_id: str) -> str:
    """The Temporal task queue on which this FC's pick/pack/ship work runs."""
    return f"fc-{fc_id}"


@dataclass(frozen=True, slots=True)
class FulfilmentCentre:
    id: str
    name: str
    region: str
    country: str
    lat: float
    lon: float
    central: bool = False

    @property
    def task_queue(self) -> str:
        return task_queue_of(self.id)


@dataclass(frozen=True, slots=True)
class Network:
    centres: tuple[FulfilmentCentre, ...]

    def __post_init__(self) -> None:
        ids = self.ids()
        malformed = [fc_id for fc_id in ids if not _CENTRE_ID.fullmatch(fc_id)]
        if malformed:
            raise ValueError(f"centre ids must match [a-z0-9-]+: {malformed}")
        repeated = sorted(fc_id for fc_id, n in Counter(ids).items() if n > 1)
        if repeated:
            raise ValueError(f"centre ids must be unique: {repeated} repeated")
        centrals = [fc.id for fc in self.centres if fc.central]
        if len(centrals) != 1:
            raise ValueError(f"a network needs exactly one central centre, got {centrals}")
        if not self.regional():
            raise ValueError("a network needs at least one regional centre")

    def regional(self) -> tuple[FulfilmentCentre, ...]:
        return tuple(fc for fc in self.centres if not fc.central)

    def central(self) -> FulfilmentCentre:
        return next(fc for fc in self.centres if fc.central)

    def get(self, fc_id: str) -> FulfilmentCentre:
        for fc in self.centres:
            if fc.id == fc_id:
                return fc
        raise KeyError(f"no fulfilment centre {fc_id!r}; known: {', '.join(self.ids())}")

    def ids(self) -> tuple[str, ...]:
        return tuple(fc.id for fc in self.centres)


DEFAULT_NETWORK = Network(
    centres=(
        FulfilmentCentre("sea", "Seattle WA", "west", "US", 47.6062, -122.3321),
        FulfilmentCentre("oak", "Oakland CA", "west", "US", 37.8044, -122.2712),
        FulfilmentCentre("dfw", "Dallas TX", "south", "US", 32.7767, -96.7970),
        FulfilmentCentre("ord", "Chicago IL", "midwest", "US", 41.8781, -87.6298),
        FulfilmentCentre("atl", "Atlanta GA", "southeast", "US", 33.7490, -84.3880),
        FulfilmentCentre("ewr", "Newark NJ", "northeast", "US", 40.7357, -74.1724),
        FulfilmentCentre("mci", "Kansas City MO", "central", "US", 39.0997, -94.5786, central=True),
    )
)
