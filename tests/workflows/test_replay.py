"""Replay safety: the recorded histories of representative orders replay on today's code.

Each file in histories/ is the whole history of one order, recorded by
record_histories.py. Replaying it runs the current OrderWorkflow, in the worker's own
sandbox and with its interceptors, against the commands the old run issued: a change that
would make a running order's workflow nondeterministic fails here, before it is deployed.
See CONTRIBUTING.md, "Changing the order workflow safely".
"""

from __future__ import annotations

from pathlib import Path

import pytest
from changed_workflows import OrderWithAPatchedPauseFirst, OrderWithAPauseFirst
from opentelemetry.sdk.trace import TracerProvider
from record_histories import HISTORIES, SCENARIOS, Scenario, record, temporal_test_server
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.workflow import NondeterminismError

from activities.messages import OrderOutcome
from doms.worker import order_replayer
from observability.tracing import temporal_interceptors
from workflows.starter import order_workflow_id

# The representative orders of the issue; deleting one's history fails the suite.
REQUIRED = (
    "happy-path",
    "split",
    "cancel-before-dispatch",
    "backorder-received",
    "backorder-timeout",
    "exhausted-retries",
)
RECORDED = sorted(HISTORIES.glob("*.json"))


def history_of(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(order_workflow_id(path.stem), path.read_text())


def test_every_representative_order_has_a_recorded_history() -> None:
    recorded = {path.stem for path in RECORDED}
    scenarios = {scenario.name for scenario in SCENARIOS}

    assert sorted(set(REQUIRED) - recorded) == []
    assert sorted(set(REQUIRED) - scenarios) == []  # and the recorder can record it again


@pytest.mark.parametrize("tracing", [False, True], ids=["untraced", "traced"])
@pytest.mark.parametrize("path", RECORDED, ids=[path.stem for path in RECORDED])
async def test_a_recorded_history_replays_on_the_current_workflow(
    path: Path, tracing: bool
) -> None:
    """As `doms worker` runs it with tracing off and on (its interceptor is in the workflow)."""
    provider = TracerProvider() if tracing else None  # not installed globally: exports nothing
    replayer = order_replayer(temporal_interceptors(provider))

    result = await replayer.replay_workflow(history_of(path))  # raises on nondeterminism

    assert result.replay_failure is None


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[scenario.name for scenario in SCENARIOS])
async def test_a_history_is_a_whole_lifecycle_that_ends_as_its_scenario_does(
    scenario: Scenario,
) -> None:
    history = history_of(HISTORIES / f"{scenario.name}.json")
    last = history.events[-1]

    assert last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
    result = last.workflow_execution_completed_event_attributes.result.payloads
    [outcome] = await DataConverter.default.decode(result, [OrderOutcome])
    assert outcome.order_id == scenario.name
    assert outcome.status is scenario.expected


async def test_the_recorder_still_records_a_whole_history_that_replays() -> None:
    """So a new history can be recorded the day one is needed."""
    happy_path = next(s for s in SCENARIOS if s.name == "happy-path")

    recorded = await record(happy_path, temporal_test_server())

    history = WorkflowHistory.from_json(order_workflow_id(happy_path.name), recorded)
    assert history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
    assert (await order_replayer().replay_workflow(history)).replay_failure is None


async def test_a_change_without_a_patch_fails_the_replay_of_a_recorded_order() -> None:
    happy_path = history_of(HISTORIES / "happy-path.json")
    changed = order_replayer(workflows=[OrderWithAPauseFirst])

    with pytest.raises(NondeterminismError):
        await changed.replay_workflow(happy_path)


@pytest.mark.parametrize("path", RECORDED, ids=[path.stem for path in RECORDED])
async def test_the_same_change_behind_workflow_patched_replays_every_recorded_order(
    path: Path,
) -> None:
    patched = order_replayer(workflows=[OrderWithAPatchedPauseFirst])

    result = await patched.replay_workflow(history_of(path))

    assert result.replay_failure is None
