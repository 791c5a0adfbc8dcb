"""Order load for `doms bench system`: closed-loop bursts and open-loop fixed arrival rates.

Closed loop (`place_closed_loop`): at most `concurrency` requests in flight, the next sent
when one is answered; it measures how fast the system takes orders. Open loop
(`place_open_loop`): request i is due at t0 + i / rate whatever happened to the ones before,
so a slow answer cannot slow the arrivals down. Its latency is measured from the time a
request was *due*, not from when it left: if the generator or its connections fall behind,
that wait counts too, instead of hiding (coordinated omission).
"""

from __future__ import annotations

import asyncio
import math
import ssl
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from doms.bench import PLACED, nearest_rank


@dataclass(frozen=True)
class Answer:
    outcome: str  # the HTTP status, or the transport error's name
    sent: float  # event-loop time the request got a connection and left


# Sends one order body and answers how it went.
Send = Callable[[dict[str, Any]], Awaitable[Answer]]


@dataclass(frozen=True)
class Shot:
    """One POST /orders, in event-loop seconds."""

    due: float  # when it was meant to leave (open loop) or got its turn (closed loop)
    sent: float
    answered: float
    outcome: str

    @property
    def latency_ms(self) -> float:
        return (self.answered - self.due) * 1000

    @property
    def placed(self) -> bool:
        return self.outcome == PLACED


class Connections:
    """HTTP clients of one keep-alive connection each, lent to one request at a time; a
    request finding them all busy waits its turn (first come, first served).

    Not one client with a pool of hundreds: httpcore re-examines its whole pool for every
    queued request whenever a request comes or goes, and with a few hundred connections
    that bookkeeping starved this event loop (a 200 orders/s schedule sent its requests
    200 s late). A one-connection pool has nothing to re-examine.
    """

    def __init__(
        self,
        base_url: str,
        count: int,
        timeout: float,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        ssl_context = ssl.create_default_context()  # one for all: each costs ~20 ms to load
        one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self._clients = [
            httpx.AsyncClient(
                base_url=base_url, timeout=timeout, limits=one, verify=ssl_context, headers=headers
            )
            for _ in range(count)
        ]
        self._idle: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
        for client in self._clients:
            self._idle.put_nowait(client)

    async def __aenter__(self) -> Connections:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await asyncio.gather(*(client.aclose() for client in self._clients))

    async def post_order(self, body: dict[str, Any]) -> Answer:
        client = await self._idle.get()
        sent = asyncio.get_running_loop().time()
        try:
            outcome = str((await client.post("/orders", json=body)).status_code)
        except httpx.TransportError as error:  # counted as an error, like a 5xx
            outcome = type(error).__name__
        finally:
            self._idle.put_nowait(client)
        return Answer(outcome, sent)


async def _timed(send: Send, body: dict[str, Any], due: float) -> Shot:
    answer = await send(body)
    return Shot(due, answer.sent, asyncio.get_running_loop().time(), answer.outcome)


async def place_closed_loop(
    send: Send,
    bodies: Sequence[dict[str, Any]],
    concurrency: int,
    report: Callable[[int], None] = lambda done: None,
) -> list[Shot]:
    """Send every body, at most `concurrency` at a time; `report(done)` after each answer."""
    slots = asyncio.Semaphore(concurrency)
    loop = asyncio.get_running_loop()
    done = 0

    async def one(body: dict[str, Any]) -> Shot:
        nonlocal done
        async with slots:
            shot = await _timed(send, body, loop.time())
        done += 1
        report(done)
        return shot

    return list(await asyncio.gather(*(one(body) for body in bodies)))


def arrival_offsets(rate: float, seconds: float) -> list[float]:
    """When each request of a fixed arrival rate is due, in seconds from the start: evenly
    spaced, `rate` a second, every one due before `seconds` have passed (50/s for 10 s:
    500, the last due at 9.98 s). The first is due at once, so there is always one."""
    if rate <= 0 or seconds <= 0:
        raise ValueError(f"rate and seconds must be positive, got {rate} and {seconds}")
    count = math.ceil(rate * seconds - 1e-9)  # 0.1 * 30 is 3.0000000000000004
    return [index / rate for index in range(count)]


async def place_open_loop(
    send: Send, bodies: Sequence[dict[str, Any]], offsets: Sequence[float]
) -> list[Shot]:
    """Send body i at the start plus offsets[i], never waiting for an answer first."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    shots: list[asyncio.Task[Shot]] = []
    for body, offset in zip(bodies, offsets, strict=True):
        due = start + offset
        if (ahead := due - loop.time()) > 0:
            await asyncio.sleep(ahead)  # the arrival schedule itself, not a synchronisation
        shots.append(asyncio.create_task(_timed(send, body, due)))
    return list(await asyncio.gather(*shots))


@dataclass(frozen=True)
class LatencyFigures:
    """Latency percentiles (nearest rank) of a set of requests, errors included."""

    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, shots: Sequence[Shot]) -> LatencyFigures:
        latencies = [shot.latency_ms for shot in shots]
        return cls(*(nearest_rank(latencies, p) for p in (50, 95, 99, 100)))


def errors_by_outcome(shots: Sequence[Shot]) -> dict[str, int]:
    return dict(sorted(Counter(shot.outcome for shot in shots if not shot.placed).items()))


@dataclass(frozen=True)
class RateFigures:
    """One fixed arrival rate of the intake phase."""

    rate: float  # orders/s asked for
    seconds: float  # the length of the schedule
    sent: int
    placed: int
    errors: int
    # Placed orders per second over the schedule, or until the last answer if that came
    # later: below `rate` when answers trail behind the arrivals, or some fail.
    achieved_per_second: float
    latency: LatencyFigures  # from the due time
    # The longest a request waited to leave (the schedule behind, or every connection
    # busy): the generator's own share of the latency.
    max_send_lag_ms: float
    errors_by_outcome: dict[str, int] = field(default_factory=dict)


def rate_figures(rate: float, seconds: float, shots: Sequence[Shot]) -> RateFigures:
    if not shots:
        raise ValueError("no requests were sent")
    placed = sum(shot.placed for shot in shots)
    last_answer = max(shot.answered for shot in shots) - min(shot.due for shot in shots)
    span = max(seconds, last_answer)
    errors = errors_by_outcome(shots)
    return RateFigures(
        rate=rate,
        seconds=seconds,
        sent=len(shots),
        placed=placed,
        errors=sum(errors.values()),
        achieved_per_second=placed / span,
        latency=LatencyFigures.of(shots),
        max_send_lag_ms=max((shot.sent - shot.due) * 1000 for shot in shots),
        errors_by_outcome=errors,
    )
