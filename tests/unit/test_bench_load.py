"""`doms bench system`'s load: the open-loop schedule, the closed-loop bound, rate figures."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from doms.bench_load import (
    Answer,
    Connections,
    Shot,
    arrival_offsets,
    place_closed_loop,
    place_open_loop,
    rate_figures,
)


def test_arrivals_are_evenly_spaced_at_the_rate_for_the_whole_duration() -> None:
    offsets = arrival_offsets(50, 10)

    assert len(offsets) == 500
    assert offsets[:3] == [0.0, 0.02, 0.04]
    assert offsets[-1] == pytest.approx(9.98)


@pytest.mark.parametrize(
    ("rate", "seconds", "count"),
    [(200, 10, 2000), (0.1, 30, 3), (3, 0.5, 2), (7, 1, 7), (0.01, 10, 1)],
)
def test_arrivals_are_all_those_due_before_the_duration_ends(
    rate: float, seconds: float, count: int
) -> None:
    assert len(arrival_offsets(rate, seconds)) == count


@pytest.mark.parametrize(("rate", "seconds"), [(0, 10), (10, 0), (-1, 10)])
def test_arrivals_refuse_a_rate_or_duration_that_is_not_positive(
    rate: float, seconds: float
) -> None:
    with pytest.raises(ValueError):
        arrival_offsets(rate, seconds)


def shot(due: float, answered: float, outcome: str = "201", sent: float | None = None) -> Shot:
    return Shot(due, due if sent is None else sent, answered, outcome)


def test_rate_figures_count_latency_from_the_due_time_and_errors_apart() -> None:
    shots = [
        shot(0.0, 0.010),
        shot(0.1, 0.150, sent=0.13),  # sent 30 ms late: the lag counts as latency
        shot(0.2, 0.220, "503"),
        shot(0.3, 0.305, "ConnectError"),
    ]

    figures = rate_figures(10, 0.4, shots)

    assert (figures.sent, figures.placed, figures.errors) == (4, 2, 2)
    assert figures.errors_by_outcome == {"503": 1, "ConnectError": 1}
    assert figures.latency.p50_ms == pytest.approx(10)
    assert figures.latency.max_ms == pytest.approx(50)
    assert figures.max_send_lag_ms == pytest.approx(30)
    assert figures.achieved_per_second == pytest.approx(2 / 0.4)


def test_achieved_rate_falls_when_answers_trail_behind_the_schedule() -> None:
    on_time = [shot(i / 10, i / 10 + 0.01) for i in range(10)]
    trailing = [shot(i / 10, 2.0) for i in range(10)]  # every answer at 2 s

    assert rate_figures(10, 1, on_time).achieved_per_second == pytest.approx(10)
    assert rate_figures(10, 1, trailing).achieved_per_second == pytest.approx(5)


def test_rate_figures_of_no_requests_are_undefined() -> None:
    with pytest.raises(ValueError):
        rate_figures(10, 1, [])


async def test_open_loop_sends_on_schedule_without_waiting_for_answers() -> None:
    """Each answer takes 300 ms, far longer than the 20 ms between arrivals: a closed loop
    would send one request per 300 ms, the open loop keeps to the schedule."""
    loop = asyncio.get_running_loop()
    sent_at: list[float] = []

    async def slow_send(body: dict[str, Any]) -> Answer:
        sent = loop.time()
        sent_at.append(sent)
        await asyncio.sleep(0.3)
        return Answer("201", sent)

    started = loop.time()
    shots = await place_open_loop(slow_send, [{}] * 10, arrival_offsets(50, 0.2))

    assert len(shots) == 10
    assert sent_at[-1] - started < 0.3  # the last left before the first was answered
    assert all(shot.sent - shot.due < 0.05 for shot in shots)
    assert all(shot.latency_ms >= 300 for shot in shots)


async def test_closed_loop_keeps_at_most_its_concurrency_in_flight() -> None:
    in_flight, most = 0, 0

    async def send(body: dict[str, Any]) -> Answer:
        nonlocal in_flight, most
        sent = asyncio.get_running_loop().time()
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return Answer("201" if body["n"] % 5 else "409", sent)

    reported: list[int] = []
    shots = await place_closed_loop(send, [{"n": n} for n in range(20)], 3, reported.append)

    assert most == 3
    assert reported == list(range(1, 21))
    assert [shot.placed for shot in shots].count(False) == 4


async def test_connections_lend_each_keep_alive_connection_to_one_request_at_a_time() -> None:
    """A tiny HTTP/1.1 server on localhost counts connections and requests in progress."""
    opened, in_progress, most = 0, 0, 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal opened, in_progress, most
        opened += 1
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:  # the client closed the connection
                break
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            in_progress += 1
            most = max(most, in_progress)
            await asyncio.sleep(0.01)
            in_progress -= 1
            writer.write(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, Connections(f"http://127.0.0.1:{port}", 3, timeout=5) as connections:
        shots = await place_open_loop(
            connections.post_order, [{"n": n} for n in range(12)], [0.0] * 12
        )

    assert [shot.outcome for shot in shots] == ["201"] * 12
    assert (opened, most) == (3, 3)  # three connections, each kept alive and reused
    assert max(shot.sent - shot.due for shot in shots) >= 0.03  # the last waited its turn
