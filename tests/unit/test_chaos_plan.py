"""`doms chaos` without a stack: its kill order, its orders and its command line."""

from __future__ import annotations

import pytest

from doms.chaos import ChaosPlan, WorkflowCheck, api_headers, kill_schedule, order_bodies
from doms.cli import build_parser


@pytest.mark.parametrize(
    ("workers", "temporals", "expected"),
    [
        (0, 0, []),
        (3, 0, ["worker"] * 3),
        (0, 1, ["temporal"]),
        (1, 1, ["worker", "temporal"]),
        (5, 1, ["worker", "worker", "temporal", "worker", "worker", "worker"]),
        (4, 2, ["worker", "temporal", "worker", "temporal", "worker", "worker"]),
    ],
)
def test_temporal_restarts_are_spread_among_the_worker_kills(
    workers: int, temporals: int, expected: list[str]
) -> None:
    assert kill_schedule(workers, temporals) == expected


@pytest.mark.parametrize(
    ("workers", "temporals", "relays", "expected"),
    [
        (0, 0, 1, ["relay"]),
        (1, 0, 1, ["relay", "worker"]),
        (
            5,
            1,
            2,
            ["worker", "worker", "relay", "temporal", "worker", "relay", "worker", "worker"],
        ),
    ],
)
def test_relay_kills_are_spread_among_the_other_kills(
    workers: int, temporals: int, relays: int, expected: list[str]
) -> None:
    assert kill_schedule(workers, temporals, relays) == expected


def test_an_api_key_travels_as_a_bearer_token_and_none_sends_no_header() -> None:
    assert api_headers("k-1") == {"Authorization": "Bearer k-1"}
    assert api_headers(None) == {}


def test_a_share_of_domestic_orders_is_made_of_a_pair_that_must_split() -> None:
    pairs = [("SKU-0052", "SKU-0053")]
    bodies = order_bodies(ChaosPlan(orders=200, split_share=0.5, seed=3), pairs)

    split = [body for body in bodies if [line["sku"] for line in body["lines"]] == list(pairs[0])]

    assert 60 < len(split) < 120  # half of the nine tenths that are domestic, give or take
    assert all(body["order_type"] != "international" for body in split)
    assert order_bodies(ChaosPlan(orders=200, split_share=0.5, seed=3), pairs) == bodies


def test_the_command_line_fills_the_plan() -> None:
    args = build_parser().parse_args(
        ["chaos", "--orders", "40", "--worker-kills", "3", "--restart-temporal", "1"]
    )

    assert (args.orders, args.worker_kills, args.restart_temporal) == (40, 3, 1)
    assert args.split_share == ChaosPlan().split_share


@pytest.mark.parametrize("share", ["-0.1", "1.5", "nan"])
def test_a_share_outside_0_to_1_is_refused(share: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["chaos", "--cancel-share", share])

    assert "--cancel-share: must be between 0 and 1" in capsys.readouterr().err


def test_a_workflow_check_names_a_few_and_counts_the_rest() -> None:
    missing = [f"o-{n}" for n in range(7)]
    check = WorkflowCheck(workflows=3, extra_runs=0, not_completed=[], missing=missing)

    assert check.violations == ["orders without a workflow: o-0, o-1, o-2, o-3, o-4 and 2 more"]
