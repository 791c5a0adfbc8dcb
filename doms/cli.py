"""The `doms` command: one entry point for every DOMS process."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Sequence

from doms import bench
from doms.settings import Settings
from observability.logging import configure_logging


def _up(settings: Settings, _: argparse.Namespace) -> int:
    from doms.supervisor import run_up

    return run_up(settings)


def _worker(settings: Settings, _: argparse.Namespace) -> int:
    from doms.worker import run_worker

    configure_logging("worker")
    asyncio.run(run_worker(settings))
    return 0


def _api(settings: Settings, _: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    configure_logging("api")
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level="warning",
        access_log=False,
    )
    return 0


def _migrate(settings: Settings, _: argparse.Namespace) -> int:
    from store.migrate import upgrade_to_head

    upgrade_to_head(settings.app_database_url)
    print(f"database at head: {settings.app_database_url}")
    return 0


def _seed(settings: Settings, _: argparse.Namespace) -> int:
    from store.seed import seed_default_network

    created = asyncio.run(seed_default_network(settings.app_database_url))
    print(
        f"seed: added {created.centres} fulfilment centres, {created.products} products, "
        f"{created.stock_rows} stock rows"
    )
    return 0


COMMANDS = {
    "up": (_up, "run the whole system locally: Temporal dev server, database, worker, API"),
    "worker": (_worker, "run the Temporal worker (order workflow and every FC task queue)"),
    "api": (_api, "run the HTTP API"),
    "migrate": (_migrate, "upgrade the app database to the newest schema"),
    "seed": (_seed, "add the default fulfilment network and stock (idempotent)"),
    "bench": (bench.run_bench, "measure a running system, e.g. `doms bench intake`"),
}
# Commands that take arguments of their own.
ARGUMENTS: dict[str, Callable[[argparse.ArgumentParser], None]] = {"bench": bench.add_arguments}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="doms",
        description="Distributed Order Management System. Settings come from DOMS_* variables.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        command = commands.add_parser(name, help=help_text, description=help_text)
        if name in ARGUMENTS:
            ARGUMENTS[name](command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler, _ = COMMANDS[args.command]
    return handler(Settings(), args)
