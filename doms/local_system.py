"""Settings for a local `doms up` of its own: a var dir and free ports (experiments, tests)."""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

# Ports below the kernel's ephemeral range (Linux: 32768 and up). The Temporal dev server
# picks its internal ports by binding port 0, so a port probed there and released could
# be handed to it before `doms up` binds it ("address already in use" at start); it is
# never handed a port from this range.
OWN_PORTS = range(20_000, 32_000)

# Load generators (`doms bench system`, `doms experiment`, the end-to-end tests) send far
# more from one address than a real client: the stacks they start have no per-client rate
# limit, and they say so.
NO_RATE_LIMIT = {"DOMS_RATE_LIMIT_PER_SECOND": "0"}


def free_port(taken: set[int] | None = None) -> int:
    """A port nobody listens on now; with `taken`, also not one of those (and it is added)."""
    taken = taken if taken is not None else set()
    candidates = [port for port in OWN_PORTS if port not in taken]
    for port in random.sample(candidates, min(500, len(candidates))):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            taken.add(port)
            return port
    raise RuntimeError(f"no free port in {OWN_PORTS.start}-{OWN_PORTS.stop - 1}")


def local_system_env(var_dir: Path, speedup: float, **settings: str) -> dict[str, str]:
    """The environment of one `doms up`: no inherited DOMS_* settings, its own ports.

    `settings` are further DOMS_* variables, e.g. DOMS_MODE="centralized".
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith("DOMS_")}
    taken: set[int] = set()  # probed ports are free but not yet bound: never hand one out twice
    env.update(
        DOMS_VAR_DIR=str(var_dir),
        DOMS_SPEEDUP=f"{speedup:g}",
        DOMS_API_PORT=str(free_port(taken)),
        DOMS_TEMPORAL_ADDRESS=f"127.0.0.1:{free_port(taken)}",
        DOMS_TEMPORAL_UI_PORT=str(free_port(taken)),
        # The worker's Prometheus ports too: two systems on one machine must not share them.
        DOMS_METRICS_PORT=str(free_port(taken)),
        DOMS_TEMPORAL_METRICS_PORT=str(free_port(taken)),
        **settings,
    )
    return env
