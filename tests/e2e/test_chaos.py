"""Crash safety: orders in flight survive SIGKILLs of the worker, of the outbox relay and of
the Temporal dev server. Each test is a small `doms chaos` run (doms/chaos.py) on a stack of
its own; the kills wait until orders are in flight, and the audit reads the app database and
Temporal."""

from __future__ import annotations

from pathlib import Path

from doms.chaos import ChaosPlan, ChaosReport, run_chaos


def assert_every_order_ended_once(report: ChaosReport) -> None:
    audit, workflows = report.audit, report.workflows
    assert audit is not None and workflows is not None
    assert report.violations == [], report.summary()
    assert audit.orders == report.placed > 0
    assert audit.not_final == []
    assert audit.duplicate_shipments == 0
    assert audit.stock_delta == 0
    assert workflows.extra_runs == 0 and workflows.disagreeing == []
    assert all(in_flight > 0 for in_flight in report.kills_with_orders_in_flight)


async def test_every_order_ends_once_while_the_worker_is_killed_again_and_again(
    tmp_path: Path,
) -> None:
    plan = ChaosPlan(
        orders=24, worker_kills=3, temporal_restarts=0, relay_kills=0, seed=11, timeout=60
    )

    report = await run_chaos(plan, tmp_path, print)

    assert report.worker_kills == 3, report.summary()
    assert_every_order_ended_once(report)
    audit = report.audit
    assert audit is not None and audit.by_status.get("delivered", 0) > 0
    assert audit.split_orders > 0  # parcels from two centres, each shipped once


async def test_every_order_completes_when_temporal_is_killed_and_restarted(
    tmp_path: Path,
) -> None:
    plan = ChaosPlan(
        orders=20, worker_kills=0, temporal_restarts=1, relay_kills=0, seed=12, timeout=60
    )

    report = await run_chaos(plan, tmp_path, print)

    assert report.temporal_restarts == 1, report.summary()
    assert_every_order_ended_once(report)


async def test_every_accepted_order_is_started_once_when_the_relay_is_killed(
    tmp_path: Path,
) -> None:
    """The rows a killed relay had leased wait out their lease; the next relay starts them."""
    plan = ChaosPlan(
        orders=40, worker_kills=0, temporal_restarts=0, relay_kills=2, seed=13, timeout=90
    )

    report = await run_chaos(plan, tmp_path, print)

    assert report.relay_kills == 2, report.summary()
    assert_every_order_ended_once(report)
    assert report.workflows is not None and report.workflows.missing == []
