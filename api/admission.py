"""Admission control: `POST /orders` is refused with 503 and Retry-After once this process
cannot answer it in time, instead of being queued for seconds.

Under overload an order request used to wait in line (for the event loop, a pooled
connection, the database's write lock) and was answered after 30 s, or not at all; the
queue only grew. Here a request is admitted, or refused at once, by two bounds on what
this process has in hand, both read from memory in a few operations:

- **In flight**: at most `max_in_flight` orders admitted and not yet answered. With a
  process that answers μ orders a second, an admitted order waits about in_flight / μ
  (Little's law), so the bound caps the wait of every order it lets in.
- **Waiting**: the order at the head of the line has waited longer than `max_wait_seconds`.
  The head is the oldest request in flight that no later one has overtaken, a later one
  being placed (answered 2xx) first: in a line, orders are placed about in arrival order,
  so the head's age is how long one waits now. This catches a process that answers too
  slowly at any count (a stalled database: nothing is placed, the head only ages). A
  request that later ones overtook is stuck on its own (say, on a dead connection) and is
  not the line: it still counts as in flight, but it does not refuse everyone behind it.
  An answer of 4xx or 5xx overtakes no one: a refusal of bad input skips the line without
  moving it, and an error says nothing of the requests ahead of it.

A refused request never reaches the route: nothing is written for it, no order accepted and
no Idempotency-Key taken, so the client simply retries after `Retry-After`, which is the
head's wait (what an order sent now would wait), at least 1 s. The line starts once a
request's body is in (it is read here, within the body-size limit, and handed on as it
came): a client slow to send its body waits on itself, not on the process, and holds no
place in line. The bounds are this process's own: each API replica applies them alone.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_response
from api.token_bucket import retry_after_seconds
from observability.metrics import StatusOf, count_shed

# The requests admission control applies to: the intake, the one route that takes orders at
# the rate of the traffic. The other writes (cancel, address, carrier events, receipts) wait
# on Temporal or wake backorders, so their time says nothing about this process's load.
ADMITTED_METHOD: Final = "POST"
ADMITTED_PATH: Final = "/orders"
# Longest Retry-After sent: a client told to wait longer would outlast a stall it can't see end.
MAX_RETRY_AFTER_SECONDS: Final = 30
Reason = Literal["in_flight", "waiting"]


@dataclass(frozen=True)
class Refusal:
    reason: Reason
    retry_after: int  # whole seconds, at least 1
    detail: str


class AdmissionGate:
    """The requests of one route this process admitted and has not answered yet.

    Only `admit` and `leave` change it, with no await between a decision and its entry, so
    on one event loop it needs no lock. `max_in_flight` or `max_wait_seconds` 0: that bound
    is off. The clock is injected, so tests need no sleeping.
    """

    def __init__(
        self,
        max_in_flight: int,
        max_wait_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_in_flight < 0 or max_wait_seconds < 0:
            raise ValueError("max_in_flight and max_wait_seconds must not be negative")
        self.max_in_flight, self.max_wait_seconds = max_in_flight, max_wait_seconds
        self._clock = clock
        self._tickets = 0  # the last ticket given; tickets number requests in arrival order
        self._line: OrderedDict[int, float] = OrderedDict()  # ticket -> admitted at, in order
        self._overtaken: set[int] = set()  # in flight, but a later request was answered first

    @property
    def in_flight(self) -> int:
        return len(self._line) + len(self._overtaken)

    def head_wait(self) -> float:
        """Seconds the request at the head of the line has waited (0 with no line)."""
        if not self._line:
            return 0.0
        return max(0.0, self._clock() - next(iter(self._line.values())))

    def admit(self) -> int | Refusal:
        """A ticket to hand back to `leave` once answered, or why the request is refused."""
        waited = self.head_wait()
        retry_after = min(MAX_RETRY_AFTER_SECONDS, retry_after_seconds(waited))
        if self.max_in_flight and self.in_flight >= self.max_in_flight:
            detail = f"this API process has {self.in_flight} orders in hand, all it takes at once"
            return Refusal("in_flight", retry_after, detail)
        if self.max_wait_seconds and waited > self.max_wait_seconds:
            detail = (
                f"the oldest order in hand has waited {waited:.1f} s, over the "
                f"{self.max_wait_seconds:g} s this process may keep one waiting"
            )
            return Refusal("waiting", retry_after, detail)
        self._tickets += 1
        self._line[self._tickets] = self._clock()
        return self._tickets

    def leave(self, ticket: int, placed: bool = True) -> None:
        """The request of `ticket` was answered (or failed, or its client went away); if
        `placed`, it went through the line and overtook everyone still ahead of it."""
        if self._line.pop(ticket, None) is None:
            self._overtaken.discard(ticket)
            return
        # Out of the line, still in flight.
        while placed and self._line and next(iter(self._line)) < ticket:
            self._overtaken.add(self._line.popitem(last=False)[0])


class AdmissionControl:
    """ASGI middleware: answers 503 with Retry-After to `POST /orders` that `gate` refuses.

    Every other request passes untouched. Installed inside the body-size limit, so the body
    it reads before deciding is already bounded.
    """

    def __init__(
        self,
        app: ASGIApp,
        gate: AdmissionGate,
        method: str = ADMITTED_METHOD,
        path: str = ADMITTED_PATH,
    ) -> None:
        self.app = app
        self.gate = gate
        self.method, self.path = method, path
        self.route = f"{method} {path}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != self.method or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client went away before its body was in: nothing to answer
            return
        admitted = self.gate.admit()
        if isinstance(admitted, Refusal):
            await self._refuse(admitted, scope, receive, send)
            return
        answer = StatusOf(send, unanswered=0)
        try:
            await self.app(scope, _replaying(body, receive), answer.send)
        finally:
            self.gate.leave(admitted, placed=200 <= answer.status < 300)

    async def _refuse(self, refusal: Refusal, scope: Scope, receive: Receive, send: Send) -> None:
        count_shed(self.route, refusal.reason)
        response = problem_response(
            503,
            "Overloaded",
            f"{refusal.detail}; nothing was changed, retry in {refusal.retry_after} s",
            headers={"Retry-After": str(refusal.retry_after)},
            reason=refusal.reason,
        )
        await response(scope, receive, send)


async def _read_body(receive: Receive) -> list[Message] | None:
    """The request's body messages as they came; None if the client disconnected first."""
    messages = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        messages.append(message)
        if not message.get("more_body", False):
            return messages


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """A receive that gives `messages` again, then whatever the client sends next."""
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay
