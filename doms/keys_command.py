"""`doms keys`: create, list and revoke API keys in the app database."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from domain.access import InvalidKeySpec, Role
from doms.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="make a key and print its token (shown once)")
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument("--customer", metavar="ID", help="the customer a customer key acts for")
    create.add_argument("--label", help="a note saying whose key it is")
    actions.add_parser("list", help="every key: id, role, customer, label, created, revoked")
    revoke = actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id", metavar="KEY_ID")


def run_keys(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_run(settings.app_database_url, args))


async def _run(database_url: str, args: argparse.Namespace) -> int:
    # Imported here: every `doms` command builds this parser; few need SQLAlchemy.
    from store import api_keys
    from store.db import create_engine, session_factory

    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            if args.action == "create":
                return await _create(session, args)
            if args.action == "revoke":
                if await api_keys.revoke(session, args.key_id, datetime.now(UTC)):
                    print(f"revoked {args.key_id}")
                    return 0
                print(f"doms keys: no active key {args.key_id}", file=sys.stderr)
                return 1
            for key in await api_keys.list_keys(session):
                revoked = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
                print(
                    f"{key.key_id}  {key.role:<8}  {key.customer_id or '-':<16}  "
                    f"{key.created_at:%Y-%m-%d %H:%M}  {revoked:<24}  {key.label or ''}"
                )
            return 0
    finally:
        await engine.dispose()


async def _create(session: AsyncSession, args: argparse.Namespace) -> int:
    from store import api_keys

    try:
        issued = await api_keys.create_key(
            session, Role(args.role), datetime.now(UTC), args.customer, args.label
        )
    except InvalidKeySpec as error:
        print(f"doms keys create: {error}", file=sys.stderr)
        return 2
    print(issued.token)
    print(
        f"key {issued.key.key_id} ({issued.key.role}"
        + (f", customer {issued.key.customer_id}" if issued.key.customer_id else "")
        + "): the token is shown only now; keep it secret.",
        file=sys.stderr,
    )
    return 0
