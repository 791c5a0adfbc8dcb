"""Ports for a local `doms up` of its own (doms/local_system.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from doms.bench_stack import stack_env
from doms.experiment import system_env
from doms.local_system import OWN_PORTS, free_port, local_system_env
from doms.settings import Settings


def test_a_port_handed_out_is_never_handed_out_again_from_the_same_set() -> None:
    left = free_port()  # free now
    taken = set(OWN_PORTS) - {left}

    assert free_port(taken) == left  # the only one not taken, whatever the random draw
    assert left in taken
    with pytest.raises(RuntimeError, match="no free port"):
        free_port(taken)


def test_one_system_gets_five_different_ports(tmp_path: Path) -> None:
    env = local_system_env(tmp_path, 1200)
    ports = [
        env["DOMS_API_PORT"],
        env["DOMS_TEMPORAL_ADDRESS"].rsplit(":", 1)[1],
        env["DOMS_TEMPORAL_UI_PORT"],
        env["DOMS_METRICS_PORT"],
        env["DOMS_TEMPORAL_METRICS_PORT"],
    ]
    assert len(set(ports)) == 5


def test_the_load_generators_start_their_stacks_without_a_rate_limit(tmp_path: Path) -> None:
    for env in (
        stack_env(tmp_path, 36_000, {"DOMS_SIMULATED_DELAYS": "false"}),
        system_env(tmp_path, "centralized", 1200, None),
    ):
        settings = Settings(**{k[5:].lower(): v for k, v in env.items() if k.startswith("DOMS_")})
        assert settings.rate_limit_per_second == 0


def test_a_stack_of_its_own_takes_a_rate_limit_when_asked(tmp_path: Path) -> None:
    assert (
        stack_env(tmp_path, 1, {"DOMS_RATE_LIMIT_PER_SECOND": "5"})["DOMS_RATE_LIMIT_PER_SECOND"]
        == "5"
    )
    assert "DOMS_RATE_LIMIT_PER_SECOND" not in local_system_env(tmp_path, 1)  # the default: on
