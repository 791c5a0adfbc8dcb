"""Ports for a local `doms up` of its own (doms/local_system.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from doms.local_system import OWN_PORTS, free_port, local_system_env


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
