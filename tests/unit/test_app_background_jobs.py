"""api/app.py `_running`: the app's background jobs end when the app stops."""

from __future__ import annotations

import asyncio

from api.app import _running


async def test_a_job_that_swallows_a_cancel_is_cancelled_again_until_it_ends() -> None:
    rounds: list[str] = []
    started = asyncio.Event()

    async def stubborn() -> None:
        # As the key sweeper did when a cancel landed in a database call: it carried on.
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            rounds.append("swallowed")
        rounds.append("pausing")
        await asyncio.Event().wait()  # a long pause, ended only by a second cancel

    async with asyncio.timeout(10):  # without the second cancel: a TimeoutError, not a hang
        async with _running(stubborn()):
            await started.wait()

    assert rounds == ["swallowed", "pausing"]


async def test_jobs_are_cancelled_when_the_app_stops() -> None:
    started = asyncio.Event()
    ended: list[bool] = []

    async def polite() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            ended.append(True)

    async with _running(polite()):
        await started.wait()

    assert ended == [True]
