from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from observability.logging import HANDLER_NAME, configure_logging


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_every_line_names_the_process_level_and_logger_in_utc(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("worker")

    logging.getLogger("doms.worker").info("serving %s", "fc-ewr")

    line = capsys.readouterr().err.strip()
    assert line.endswith("Z worker INFO doms.worker: serving fc-ewr")


def test_configuring_twice_keeps_one_handler_and_takes_the_new_settings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("worker")
    configure_logging("api", level="warning")

    logging.getLogger("x").info("hidden")
    logging.getLogger("x").warning("shown")

    ours = [h for h in logging.getLogger().handlers if h.get_name() == HANDLER_NAME]
    assert len(ours) == 1
    assert capsys.readouterr().err.strip().endswith("Z api WARNING x: shown")
