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
from domain.access import ApiToken, Role
from store import api_keys

CACHE_MAX_KEYS = 10_000  # verified keys remembered per process (VerifiedKeys)
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


class VerifiedKeys:
    """The keys this process verified lately, by the SHA-256 of their token (never the token).

    Read on every request, so each lookup is one dict access. Authentication trusts a key
    verified less than `ttl_seconds` ago without asking the database: a revoked key keeps
    working here for up to that long. The rate limit (api/limits.py) charges a request to
    its key only if the key verified here once, whatever the ttl: credentials never verified
    (made up, or not seen yet) are charged to the client's address, so inventing
    Authorization headers buys no fresh buckets. At most `max_keys` keys, the least recently
    verified go first. A key that fails to verify is forgotten at once.
    """

    def __init__(
        self,
        ttl_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = CACHE_MAX_KEYS,
    ) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._max_keys = max_keys
        # fingerprint -> (trusted until, by the clock; the key), least recently verified first
        self._keys: OrderedDict[str, tuple[float, Principal]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def trusted(self, token: str) -> Principal | None:
        """The key of `token` if it verified less than the ttl ago."""
        found = self._keys.get(_fingerprint(token))
        return found[1] if found is not None and found[0] > self._clock() else None

    def key_id_of(self, token: str) -> str | None:
        """The id of the key `token` verified as, if it did (and was not refused since)."""
        found = self._keys.get(_fingerprint(token))
        return found[1].key_id if found is not None else None

    def remember(self, token: str, principal: Principal) -> None:
        fingerprint = _fingerprint(token)
        self._keys[fingerprint] = (self._clock() + self._ttl, principal)
        self._keys.move_to_end(fingerprint)
        while len(self._keys) > self._max_keys:
            self._keys.popitem(last=False)

    def forget(self, token: str) -> None:
        self._keys.pop(_fingerprint(token), None)


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class KeyVerifier:
    """Verifies tokens against the store, unless `verified` trusts them still.

    Failures are not cached: a key made a moment ago works at once. Unknown but well-formed
    tokens cost a database read each; the rate limit (by address, for them) bounds how many.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], verified: VerifiedKeys) -> None:
        self._sessions = sessions
        self._verified = verified

    async def verify(self, token: str) -> Principal | None:
        if (trusted := self._verified.trusted(token)) is not None:
            return trusted
        if ApiToken.parse(token) is None:  # not even shaped like a key: no database read
            return None
        async with self._sessions() as session:
            key = await api_keys.verify(session, token)
        if key is None:
            self._verified.forget(token)
            return None
        principal = Principal(key.key_id, key.role, key.customer_id)
        self._verified.remember(token, principal)
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
