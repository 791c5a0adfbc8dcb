"""Who is calling: the Bearer API key of each request, checked against the store.

401 (with `WWW-Authenticate: Bearer`) for a missing, malformed, unknown or revoked key;
403 for a key whose role may not call the route. Which orders a customer key sees is
decided by the routes (api/ownership.py): another customer's order is a 404, like a
missing one, so a customer cannot learn which order ids exist.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.problems import Problem
from domain.access import Role
from store import api_keys

CACHE_MAX_KEYS = 10_000
# Declared on every protected route, so the OpenAPI document lists every status it answers:
# KEY_RESPONSES on a route any key may call, AUTH_RESPONSES on one only some roles may.
KEY_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No API key, or a malformed, unknown or revoked one"},
}
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = KEY_RESPONSES | {
    403: {"description": "The key's role may not do this"},
}


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: Role
    customer_id: str | None  # set for, and only for, a customer key

    @property
    def is_customer(self) -> bool:
        return self.role is Role.CUSTOMER

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR


class KeyVerifier:
    """Verifies tokens against the store, remembering verified ones for `ttl_seconds`.

    The cache spares each request a database read; the price is that a revoked key keeps
    working in a process that verified it for up to `ttl_seconds` more. It holds at most
    CACHE_MAX_KEYS keys (the oldest go first) and never a token itself, only its SHA-256.
    Failures are not cached: a key made a moment ago works at once.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl_seconds
        self._clock = clock
        self._verified: OrderedDict[str, tuple[float, Principal]] = OrderedDict()

    async def verify(self, token: str) -> Principal | None:
        fingerprint = hashlib.sha256(token.encode()).hexdigest()
        now = self._clock()
        cached = self._verified.get(fingerprint)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self._sessions() as session:
            key = await api_keys.verify(session, token)
        if key is None:
            self._verified.pop(fingerprint, None)
            return None
        principal = Principal(key.key_id, key.role, key.customer_id)
        if self._ttl > 0:
            self._verified[fingerprint] = (now + self._ttl, principal)
            self._verified.move_to_end(fingerprint)
            while len(self._verified) > CACHE_MAX_KEYS:
                self._verified.popitem(last=False)
        return principal


_bearer = HTTPBearer(
    auto_error=False,  # a missing key is our 401 problem, not FastAPI's plain 403
    description="An API key: `Authorization: Bearer doms_<key id>_<secret>`.",
)


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


async def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise _unauthorized("send an API key: Authorization: Bearer <key>")
    verifier: KeyVerifier = request.app.state.keys
    principal = await verifier.verify(credentials.credentials)
    if principal is None:
        raise _unauthorized("the API key is malformed, unknown or revoked")
    return principal


Caller = Annotated[Principal, Depends(authenticated)]


def allow(*roles: Role) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """A dependency admitting only keys of these roles (403 for the others)."""

    async def role_checked(caller: Caller) -> Principal:
        if caller.role not in roles:
            allowed = " or ".join(role.value for role in roles)
            raise Problem(403, "Forbidden", f"a {caller.role} key may not do this; {allowed} may")
        return caller

    return role_checked


OPERATOR_ONLY = [Depends(allow(Role.OPERATOR))]
CUSTOMERS_AND_OPERATORS = [Depends(allow(Role.CUSTOMER, Role.OPERATOR))]
CARRIERS_AND_OPERATORS = [Depends(allow(Role.CARRIER, Role.OPERATOR))]
