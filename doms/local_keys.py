"""The API keys of a local `doms up`: an operator key and a demo customer's key.

They are written to `<var dir>/api-keys.json`, readable by its owner only: the file is
created with mode 0600 (never widened and narrowed after), then moved over the old one.
A restart reuses the keys of the file while the database still accepts them.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from domain.access import Role
from doms.settings import Settings

KEYS_FILE_NAME = "api-keys.json"
DEMO_CUSTOMER_ID = "c-demo"
OWNER_ONLY = 0o600


@dataclass(frozen=True)
class LocalKeys:
    operator: str
    customer: str
    customer_id: str = DEMO_CUSTOMER_ID


def keys_file(var_dir: Path) -> Path:
    return var_dir / KEYS_FILE_NAME


def read_local_keys(var_dir: Path) -> LocalKeys | None:
    """The keys a `doms up` on this var dir wrote; None when there are none (or unreadable)."""
    try:
        stored = json.loads(keys_file(var_dir).read_text())
        return LocalKeys(stored["operator"], stored["customer"], stored["customer_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_local_keys(var_dir: Path, keys: LocalKeys) -> Path:
    path = keys_file(var_dir)
    partial = path.with_suffix(".tmp")
    partial.unlink(missing_ok=True)  # O_EXCL below: a new file, so the mode is ours
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY)
    with os.fdopen(descriptor, "w") as output:
        json.dump(asdict(keys), output, indent=2)
        output.write("\n")
    os.replace(partial, path)
    return path


async def ensure_local_keys(database_url: str, var_dir: Path) -> LocalKeys:
    """The keys of the file if the database still accepts them, else new ones (and the file)."""
    # Here, not at the top: `doms experiment` reads key files, and every `doms` command
    # imports it; SQLAlchemy would slow them all down.
    from store import api_keys
    from store.db import create_engine, session_factory

    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            known = read_local_keys(var_dir)
            if known is not None:
                operator = await api_keys.verify(session, known.operator)
                customer = await api_keys.verify(session, known.customer)
                if (
                    operator is not None
                    and operator.role is Role.OPERATOR
                    and customer is not None
                    and customer.role is Role.CUSTOMER
                    and customer.customer_id == known.customer_id
                ):
                    return known
            now = datetime.now(UTC)
            operator_key = await api_keys.create_key(
                session, Role.OPERATOR, now, label="doms up: local operator"
            )
            customer_key = await api_keys.create_key(
                session,
                Role.CUSTOMER,
                now,
                customer_id=DEMO_CUSTOMER_ID,
                label="doms up: demo customer",
            )
    finally:
        await engine.dispose()
    keys = LocalKeys(operator_key.token, customer_key.token)
    write_local_keys(var_dir, keys)
    return keys


def api_key_of(settings: Settings, given: str | None = None) -> str | None:
    """The key a client command sends: given, else DOMS_API_KEY, else a local `doms up`'s."""
    if given:
        return given
    if settings.api_key is not None:
        return settings.api_key.get_secret_value()
    local = read_local_keys(settings.var_dir)
    return local.operator if local is not None else None


def bearer(key: str | None) -> dict[str, str]:
    """The header that sends `key`; none without a key (the API will answer 401)."""
    return {"Authorization": f"Bearer {key}"} if key else {}
