"""Changed versions of the order workflow, for tests/workflows/test_replay.py.

Same workflow name as the real one, each starting with one timer more than it: once as an
unguarded change, which must break the replay of recorded histories, and once behind
`workflow.patched`, the safe way to make the same change.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.messages import OrderOutcome, OrderRequest
    from workflows.order import OrderWorkflow

PAUSE = timedelta(minutes=1)


@workflow.defn(name="Order")
class OrderWithAPauseFirst(OrderWorkflow):
    """An unguarded change: a timer before allocation that old histories never started."""

    @workflow.run
    async def run(self, request: OrderRequest) -> OrderOutcome:
        await workflow.sleep(PAUSE)
        return await super().run(request)


@workflow.defn(name="Order")
class OrderWithAPatchedPauseFirst(OrderWorkflow):
    """The same change behind a patch: histories recorded without it skip the timer."""

    @workflow.run
    async def run(self, request: OrderRequest) -> OrderOutcome:
        if workflow.patched("pause-before-allocation"):
            await workflow.sleep(PAUSE)
        return await super().run(request)
