"""The `doms` command: one entry point for every DOMS process."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence

from doms import bench, chaos, experiment, keys_command, sourcing_report
from doms.invalid_settings import InvalidSettings, load_settings
from doms.network_file import NetworkFileError
from doms.settings import Settings
from observability.logging import configure_logging


def _up(settings: Settings, _: argparse.Namespace) -> int:
    from doms.supervisor import run_up

    return run_up(settings)


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from doms.worker import run_worker

    configure_logging("worker")
    if args.fc:  # a regional worker: its FCs, and the order workflow only if asked
        asyncio.run(run_worker(settings, fc_ids=args.fc, orders=args.orders))
    else:
        asyncio.run(run_worker(settings, fc_ids=settings.worker_fcs))
    return 0


def _worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fc", action="append", metavar="ID", help="serve this FC's task queue (repeatable)"
    )
    parser.add_argument(
        "--orders", action="store_true", help="with --fc: also run the order workflow"
    )


def _api(settings: Settings, _: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from observability.tracing import configure_tracing

    configure_logging("api")
    uvicorn.run(
        create_app(settings, configure_tracing("doms-api")),
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
    from doms.network_file import load_network_spec
    from store.seed import seed_network_spec

    spec = load_network_spec(settings.network_file)
    created = asyncio.run(seed_network_spec(settings.app_database_url, spec))
    print(
        f"seed: added {created.centres} fulfilment centres, {created.products} products, "
        f"{created.stock_rows} stock rows"
    )
    return 0


COMMANDS = {
    "up": (_up, "run the whole system locally: Temporal dev server, database, worker, API"),
    "worker": (_worker, "run the Temporal worker: the order workflow and FC task queues"),
    "api": (_api, "run the HTTP API"),
    "migrate": (_migrate, "upgrade the app database to the newest schema"),
    "seed": (_seed, "add the default fulfilment network and stock (idempotent)"),
    "keys": (keys_command.run_keys, "API keys: `doms keys create --role operator`, list, revoke"),
    "bench": (bench.run_bench, "measure a running system, e.g. `doms bench intake`"),
    "experiment": (
        experiment.run_experiment,
        "run the paper's evaluation (modes x load levels) and write the report",
    ),
    "chaos": (
        chaos.run_command,
        "SIGKILL the worker and Temporal under a batch of orders, then audit the outcome",
    ),
    "sourcing-report": (
        sourcing_report.run_report,
        "compare centralized, distributed and hybrid sourcing on generated orders",
    ),
}
# Commands that take arguments of their own.
ARGUMENTS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "worker": _worker_arguments,
    "keys": keys_command.add_arguments,
    "bench": bench.add_arguments,
    "experiment": experiment.add_arguments,
    "chaos": chaos.add_arguments,
    "sourcing-report": sourcing_report.add_arguments,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="doms",
        description="Distributed Order Management System. Settings come from DOMS_* variables.",
    )
    parser.add_argument(
        "--network",
        metavar="FILE",
        help="network description (TOML) for this command and its children; "
        "default: DOMS_NETWORK_FILE or the packaged default network",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        command = commands.add_parser(name, help=help_text, description=help_text)
        if name in ARGUMENTS:
            ARGUMENTS[name](command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.network:  # through the environment, so `doms up`'s children use it too
        os.environ["DOMS_NETWORK_FILE"] = args.network
    handler, _ = COMMANDS[args.command]
    try:
        settings = load_settings()
    except InvalidSettings as invalid:
        return _refuse(args.command, invalid.problems)
    try:
        return handler(settings, args)
    except NetworkFileError as error:
        return _refuse(args.command, [str(error)])


def _refuse(command: str, problems: list[str]) -> int:
    """One line per problem, and the exit status of a usage error, as argparse gives."""
    for problem in problems:
        print(f"doms {command}: {problem}", file=sys.stderr)
    return 2
