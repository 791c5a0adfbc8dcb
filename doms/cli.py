"""The `doms` command: one entry point for every DOMS process."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from importlib import import_module

from doms.invalid_settings import InvalidSettings, load_settings
from doms.network_file import NetworkFileError
from doms.settings import Settings
from observability.logging import configure_logging

Handler = Callable[[Settings, argparse.Namespace], int]
Arguments = Callable[[argparse.ArgumentParser], None]


# Every DOMS process is a `doms` command, so a command's module is imported only when that
# command runs: `doms migrate` or `doms worker` does not pay for the tools' imports
# (chaos, bench, experiment pull in Temporal, SQLAlchemy, httpx), which each start of
# `doms up` would pay several times over.
def _handler(module: str, name: str) -> Handler:
    def handle(settings: Settings, args: argparse.Namespace) -> int:
        function: Handler = getattr(import_module(f"doms.{module}"), name)
        return function(settings, args)

    return handle


# uvicorn keeps an idle connection open this long (seconds).
KEEP_ALIVE_SECONDS = 75


def _arguments(module: str, name: str) -> Arguments:
    def add(parser: argparse.ArgumentParser) -> None:
        function: Arguments = getattr(import_module(f"doms.{module}"), name)
        function(parser)

    return add


def _up(settings: Settings, _: argparse.Namespace) -> int:
    from doms.supervisor import run_up

    return run_up(settings)


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from doms.gc_tuning import tune_for_serving
    from doms.worker import run_worker

    configure_logging("worker")
    tune_for_serving()
    if args.fc:  # a regional worker: its FCs, and the order workflow only if asked
        asyncio.run(run_worker(settings, fc_ids=args.fc, orders=args.orders))
    else:
        asyncio.run(run_worker(settings, fc_ids=settings.worker_fcs))
    return 0


def _relay(settings: Settings, _: argparse.Namespace) -> int:
    from doms.gc_tuning import tune_for_serving
    from doms.relay_process import run_relay

    configure_logging("relay")
    tune_for_serving()
    asyncio.run(run_relay(settings))
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
    from doms.gc_tuning import tune_for_serving
    from observability.tracing import configure_tracing

    configure_logging("api")
    app = create_app(settings, configure_tracing("doms-api"))
    tune_for_serving()
    uvicorn.run(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_level="warning",
        access_log=False,
        # Longer than a client's pause between bursts (uvicorn's 5 s closed the bench's idle
        # connections as it sent on them: a ReadError) and than a proxy's idle upstream time.
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
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
    "up": (_up, "run the whole system locally: Temporal dev server, database, worker, relay, API"),
    "worker": (_worker, "run the Temporal worker: the order workflow and FC task queues"),
    "relay": (_relay, "run the outbox relay: start the workflows of the orders the API accepted"),
    "api": (_api, "run the HTTP API"),
    "migrate": (_migrate, "upgrade the app database to the newest schema"),
    "seed": (_seed, "add the default fulfilment network and stock (idempotent)"),
    "keys": (
        _handler("keys_command", "run_keys"),
        "API keys: `doms keys create --role operator`, list, revoke",
    ),
    "bench": (_handler("bench", "run_bench"), "measure a running system, e.g. `doms bench intake`"),
    "experiment": (
        _handler("experiment", "run_experiment"),
        "run the paper's evaluation (modes x load levels) and write the report",
    ),
    "chaos": (
        _handler("chaos", "run_command"),
        "SIGKILL the worker and Temporal under a batch of orders, then audit the outcome",
    ),
    "sourcing-report": (
        _handler("sourcing_report", "run_report"),
        "compare centralized, distributed and hybrid sourcing on generated orders",
    ),
}
# Commands that take arguments of their own.
ARGUMENTS: dict[str, Arguments] = {
    "worker": _worker_arguments,
    "keys": _arguments("keys_command", "add_arguments"),
    "bench": _arguments("bench", "add_arguments"),
    "experiment": _arguments("experiment", "add_arguments"),
    "chaos": _arguments("chaos", "add_arguments"),
    "sourcing-report": _arguments("sourcing_report", "add_arguments"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command; with `command`, only that one's own arguments (the
    others' would import their modules) and the others' names and help."""
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
        subparser = commands.add_parser(name, help=help_text, description=help_text)
        if name in ARGUMENTS and command in (None, name):
            ARGUMENTS[name](subparser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser(_command_in(argv)).parse_args(argv)
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


def _command_in(argv: Sequence[str] | None) -> str | None:
    """The command named in `argv`, or None (e.g. `doms --help`): all of them are parsed."""
    first = argparse.ArgumentParser(prog="doms", add_help=False)
    first.add_argument("--network")
    first.add_argument("command", nargs="?")
    known, _ = first.parse_known_args(argv)
    return known.command if known.command in COMMANDS else None
