"""One log line per event, the same in every DOMS process, on stderr:

    2026-01-31T12:00:00.123Z worker INFO doms.worker: polling task queue fc-ewr

UTC timestamps, so that the lines of the API, the worker and Locust interleave correctly
when merged. Tracing (OpenTelemetry) is set up elsewhere in a later issue.
"""

from __future__ import annotations

import logging
import sys
import time

HANDLER_NAME = "doms-stderr"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"


def configure_logging(process: str, level: str = "INFO") -> None:
    """Send the root logger's records to stderr in the DOMS format, naming `process`.

    Idempotent: calling it again updates the format and level instead of adding a handler,
    so no line is ever printed twice.
    """
    root = logging.getLogger()
    root.setLevel(level.upper())
    handler = _installed_handler(root) or _install_handler(root)
    handler.setFormatter(_formatter(process))


def _installed_handler(root: logging.Logger) -> logging.Handler | None:
    return next((h for h in root.handlers if h.get_name() == HANDLER_NAME), None)


def _install_handler(root: logging.Logger) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(HANDLER_NAME)
    root.addHandler(handler)
    return handler


def _formatter(process: str) -> logging.Formatter:
    escaped = process.replace("%", "%%")  # a literal in a %-style format string
    formatter = logging.Formatter(
        f"%(asctime)s.%(msecs)03dZ {escaped} %(levelname)s %(name)s: %(message)s",
        datefmt=DATE_FORMAT,
    )
    formatter.converter = time.gmtime
    return formatter
