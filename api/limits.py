"""Limits applied before any route runs: request body size and a per-client rate limit.

Both are pure ASGI middleware (no BaseHTTPMiddleware): they see the raw messages, so a
body is refused while it streams in, and nothing is buffered for requests let through.
"""

from __future__ import annotations

from collections.abc import Collection

from fastapi.security.utils import get_authorization_scheme_param
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import VerifiedKeys
from api.problems import problem_response
from api.token_bucket import TokenBuckets, retry_after_seconds

# Probes and scrapes are never limited: an orchestrator or Prometheus must always get through.
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class BodySizeLimit:
    """Answers 413 to a request whose body is over `max_bytes`.

    A declared Content-Length over the limit is refused before a byte is read; a chunked
    (or under-declared) body is counted as it arrives and refused once it passes the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    await self._refuse(scope, receive, send)
                    # The app sees a client that went away: it stops reading and its own
                    # answer (whatever it is) is dropped below, as ours was sent already.
                    return {"type": "http.disconnect"}
            return message

        async def send_unless_refused(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counting_receive, send_unless_refused)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            "Request body too large",
            f"the request body is over the limit of {self.max_bytes} bytes",
            limit_bytes=self.max_bytes,
        )
        await response(scope, receive, send)


def client_key(scope: Scope, verified: VerifiedKeys) -> str:
    """Whose bucket a request takes from: its API key's, if that key verified in this process
    (api/auth.py), else its network address's.

    Unverified credentials count as none: a bucket per Authorization header would give a
    client that invents a header per request a fresh, full bucket each time (no limit at all)
    and push everyone else's buckets out. A client knowing only another's key id (not its
    secret) cannot drain that client's bucket either: its token does not verify. The first
    request of a key, before it verified, is charged to the address. Behind a proxy every
    client without a verified key shares the proxy's address.
    """
    scheme, token = get_authorization_scheme_param(Headers(scope=scope).get("authorization"))
    if scheme.lower() == "bearer" and (key_id := verified.key_id_of(token)) is not None:
        return f"key:{key_id}"
    client = scope.get("client")
    return f"addr:{client[0]}" if client else "addr:unknown"


class RateLimit:
    """Answers 429 with Retry-After to a client over its rate (api/token_bucket.py).

    The buckets live in this process: with several API replicas each applies the limit on
    its own, so a client spread over N replicas may make up to N times the rate.
    """

    def __init__(
        self,
        app: ASGIApp,
        buckets: TokenBuckets,
        verified: VerifiedKeys,
        exempt: Collection[str] = UNLIMITED_PATHS,
    ) -> None:
        self.app = app
        self.buckets = buckets
        self.verified = verified
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(client_key(scope, self.verified))
        if not wait:
            await self.app(scope, receive, send)
            return
        seconds = retry_after_seconds(wait)
        response = problem_response(
            429,
            "Too many requests",
            f"over the rate limit of {self.buckets.rate:g} requests/s "
            f"(bursts of {self.buckets.burst}); retry in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )
        await response(scope, receive, send)
