"""The order lifecycle's activities: sourcing and stock (local), pick/pack/ship (per FC)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.faults import FaultInjector
from activities.messages import (
    AllocateInput,
    Allocation,
    DeliveryInput,
    Dispatch,
    OrderEnded,
    OrderRequest,
    Placement,
    ReallocateInput,
    ReleaseInput,
    ShipInput,
    request_to_json,
)
from domain.clock import SimClock
from domain.network_spec import NetworkSpec
from domain.orders import Destination, OrderLine, OrderStatus
from domain.sourcing import SourcingDecision, source, unknown_skus
from domain.timings import order_hours, shipping_hours
from observability import metrics
from observability.trace_context import current_trace_id
from store import inventory
from store.idempotency import AnswerToKey
from store.orders import (
    NewOrder,
    OrderAlreadyRecorded,
    OrderWrites,
    ParcelReservation,
    Promise,
    RecordedAllocation,
    WorkflowStart,
)

# The answer to an Idempotency-Key that a placement gives: recorded with the order (the API's).
AnswerFor = Callable[[Placement], AnswerToKey]
# Another order may take the stock between reading it and reserving it; source again.
SOURCING_ATTEMPTS = 3


class OrderActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        spec: NetworkSpec,
        faults: FaultInjector | None = None,
    ) -> None:
        self._sessions = sessions
        self._writes = OrderWrites(sessions)
        self._spec = spec
        self._faults = faults or FaultInjector(0.0)

    @activity.defn(name="allocate")
    async def allocate(self, command: AllocateInput) -> Placement:
        """Source the order and reserve its stock; or backorder it, or reject it."""
        order = _new_order(command.request, command.placed_at)
        recorded = await self._writes.allocation_of(order.order_id)
        if recorded is None:
            try:
                return await self._place(command.request, order, command.decided_at)
            except OrderAlreadyRecorded:  # a concurrent attempt won; answer what it decided
                recorded = await self._writes.allocation_of(order.order_id)
        assert recorded is not None
        return _placement_from(order, recorded)

    async def accept(
        self,
        request: OrderRequest,
        at: datetime,
        start: StartTerms,
        answer: AnswerFor | None = None,
    ) -> Placement:
        """The outbox intake, in the API: decide and record the placement as `allocate` would,
        with the start of the order's workflow (its placement in its input) queued in the
        same transaction, and with an Idempotency-Key, the answer to it too."""
        return await self._place(request, _new_order(request, at), at, answer, start)

    @activity.defn(name="retry_backorder")
    async def retry_backorder(self, command: AllocateInput) -> Placement:
        """Stock arrived: try to allocate a backordered order; it keeps waiting if not."""
        order = _new_order(command.request, command.placed_at)
        for _ in range(SOURCING_ATTEMPTS):
            decision = await self._decide(order, order.destination)
            if not decision.served:
                break
            promise = _promise(order, decision, command.decided_at)
            if await self._writes.allocate_backordered(
                order.order_id,
                _reservations(decision),
                promise,
                command.decided_at,
                decision.as_dict(),
            ):
                placement = _allocated(order, decision, promise, command.decided_at)
                _count_outcome(order, placement)
                return placement
        recorded = await self._writes.allocation_of(order.order_id)
        assert recorded is not None
        return _placement_from(order, recorded)

    @activity.defn(name="reallocate")
    async def reallocate(self, command: ReallocateInput) -> Placement:
        """Re-source for a new destination; the old reservation is released in the same step."""
        order = _new_order(command.request, command.decided_at)
        recorded = await self._writes.allocation_of(order.order_id)
        own = recorded.reservations if recorded else {}
        for _ in range(SOURCING_ATTEMPTS):
            decision = await self._decide(order, command.destination, own_reserved=own)
            if not decision.served:
                return _rejected(order, decision.reason, decision)
            promise = _promise(order, decision, command.decided_at)
            if await self._writes.reallocate(
                order.order_id,
                command.destination,
                _reservations(decision),
                promise,
                decision.as_dict(),
            ):
                return _allocated(order, decision, promise, command.decided_at)
        return _rejected(order, "stock moved while re-sourcing; try again", None)

    @activity.defn(name="release")
    async def release(self, command: ReleaseInput) -> OrderEnded | None:
        """Compensation: unshipped units go back to stock; safe to repeat.

        Answers how the order ended: as asked, or as an earlier step ended it (whose record
        in the workflow's history may have been lost); None for an unknown order.
        """
        if await self._writes.release(command.order_id, command.status, command.reason, command.at):
            metrics.count_order(command.status, command.order_type, command.mode)
            return OrderEnded(command.status, command.reason)
        ended = await self._writes.ending_of(command.order_id)
        return None if ended is None else OrderEnded(*ended)

    @activity.defn(name="ship")
    async def ship(self, command: ShipInput) -> Dispatch:
        """Pick, pack and hand the parcel to the carrier; runs on the FC's own task queue."""
        self._faults.maybe_fail(f"WMS at {command.fulfilment_centre}")
        shipment_id = f"{command.order_id}-{command.fulfilment_centre}"
        # The server's start time of this attempt: the same clock the workflow sees,
        # including in time-skipping tests.
        dispatched_at = activity.info().started_time
        hours = shipping_hours(
            command.handling_hours, command.ready_at, dispatched_at, command.speedup
        )
        shipped = await self._writes.record_shipment(
            command.order_id, command.fulfilment_centre, shipment_id, dispatched_at, hours
        )
        if not shipped:  # released or moved meanwhile: nothing may leave this FC
            raise ApplicationError(
                f"parcel {shipment_id} is no longer reserved",
                type="NotReserved",
                non_retryable=True,
            )
        metrics.count_order(
            OrderStatus.SHIPPED, command.order_type, command.mode, command.fulfilment_centre
        )
        return Dispatch(shipment_id, dispatched_at, hours)

    @activity.defn(name="record_delivery")
    async def record_delivery(self, command: DeliveryInput) -> None:
        delivered = await self._writes.record_delivery(
            command.order_id, command.delivered_at, command.delivery_hours
        )
        if delivered is not None:  # not a repeat
            metrics.count_order(OrderStatus.DELIVERED, delivered.order_type, delivered.mode)
            metrics.observe_phases(delivered.order_type, delivered.mode, delivered.timings)

    async def _place(
        self,
        request: OrderRequest,
        order: NewOrder,
        at: datetime,
        answer: AnswerFor | None = None,
        start: StartTerms | None = None,
    ) -> Placement:
        """Decide and record a new order, then count it."""
        outcome = _Outcome(request, answer, start)
        placement = await self._decide_and_record(request, order, at, outcome)
        metrics.count_order(metrics.PLACED, order.order_type, order.mode)
        _count_outcome(order, placement)
        return placement

    async def _decide_and_record(
        self, request: OrderRequest, order: NewOrder, at: datetime, outcome: _Outcome
    ) -> Placement:
        for _ in range(SOURCING_ATTEMPTS):
            decision = await self._decide(order, order.destination)
            if decision.unknown_skus:
                reason = f"unknown SKU: {', '.join(decision.unknown_skus)}"
                placement = _rejected(order, reason, decision)
                await self._writes.reject(outcome.of(order, placement), reason)
                return placement
            if not decision.served:
                return await self._backorder_or_reject(request, order, decision, at, outcome)
            promise = _promise(order, decision, at)
            placement = _allocated(order, decision, promise, at)
            if await self._writes.allocate(
                outcome.of(order, placement),
                _reservations(decision),
                promise,
                at,
                decision.as_dict(),
            ):
                return placement
        return await self._backorder_or_reject(request, order, decision, at, outcome)

    async def _backorder_or_reject(
        self,
        request: OrderRequest,
        order: NewOrder,
        decision: Decision,
        at: datetime,
        outcome: _Outcome,
    ) -> Placement:
        if request.backorder_hours is None:
            placement = _rejected(order, decision.reason, decision)
            await self._writes.reject(outcome.of(order, placement), decision.reason)
            return placement
        real_wait = SimClock(order.speedup).real_seconds(request.backorder_hours)
        until = at + timedelta(seconds=real_wait)
        placement = _backordered(order, decision, until)
        await self._writes.record_backorder(outcome.of(order, placement), decision.as_dict(), until)
        return placement

    async def _decide(
        self,
        order: NewOrder,
        destination: Destination,
        own_reserved: dict[str, list[OrderLine]] | None = None,
    ) -> Decision:
        """Read stock and backlog, then let the domain's sourcing policy choose."""
        skus = {line.sku for line in order.lines}
        centres = [fc.id for fc in self._spec.network.centres]
        async with self._sessions() as session:
            known = await inventory.known_skus(session, skus)
            stock = await inventory.stock_levels(session, skus, centres)
            backlog = await inventory.backlog_by_centre(session, centres)
        for fc_id, lines in (own_reserved or {}).items():
            for line in lines:  # the order's own units count as available to itself
                stock[(fc_id, line.sku)] = stock.get((fc_id, line.sku), 0) + line.quantity
        missing = unknown_skus(order.lines, known)
        decision = source(
            self._spec, order.mode, order.order_type, destination, order.lines, stock, backlog
        )
        return Decision(decision, missing)


class Decision:
    """The domain's sourcing decision plus the SKUs the catalogue does not know."""

    def __init__(self, decision: SourcingDecision, unknown: list[str]) -> None:
        self.decision, self.unknown_skus = decision, unknown

    @property
    def served(self) -> bool:
        return self.decision.served and not self.unknown_skus

    @property
    def reason(self) -> str:
        return self.decision.reason

    def as_dict(self) -> dict[str, object]:
        return self.decision.as_dict()


@dataclasses.dataclass(frozen=True)
class StartTerms:
    """The outbox intake: the workflow's start queued with the order, in the trace of the
    request that placed it."""

    traceparent: str | None


@dataclasses.dataclass(frozen=True)
class _Outcome:
    request: OrderRequest
    answer: AnswerFor | None
    start: StartTerms | None

    def of(self, order: NewOrder, placement: Placement) -> NewOrder:
        """The order to record, with what its placement starts and answers, when wanted."""
        if self.answer is not None:
            order = dataclasses.replace(order, then_answer=self.answer(placement))
        if self.start is not None:
            started = dataclasses.replace(self.request, placement=placement)
            start = WorkflowStart(request_to_json(started), self.start.traceparent)
            order = dataclasses.replace(order, then_start=start)
        return order


def _new_order(request: OrderRequest, placed_at: datetime) -> NewOrder:
    return NewOrder(
        order_id=request.order_id,
        customer_id=request.customer_id,
        order_type=request.order_type,
        mode=request.mode,
        destination=request.destination,
        lines=tuple(request.lines),
        speedup=request.speedup,
        placed_at=placed_at,
        trace_id=current_trace_id(),  # the request's, or the workflow's that carries it on
    )


def _count_outcome(order: NewOrder, placement: Placement) -> None:
    """Allocated counts at each FC of the order; backordered and rejected once."""
    centres = [a.fulfilment_centre for a in placement.allocations] or [""]
    for centre in centres:
        metrics.count_order(placement.status, order.order_type, order.mode, centre)


def _reservations(decision: Decision) -> list[ParcelReservation]:
    return [ParcelReservation(p.centre_id, p.lines) for p in decision.decision.parcels]


def _promise(order: NewOrder, decision: Decision, at: datetime) -> Promise:
    hours = decision.decision.promised_hours
    assert hours is not None, "a served decision carries a promise"
    return Promise(hours, at + timedelta(seconds=SimClock(order.speedup).real_seconds(hours)))


def _allocations(decision: Decision) -> list[Allocation]:
    return [
        Allocation(p.centre_id, list(p.lines), p.distance_km, p.handling_hours, p.transit_hours)
        for p in decision.decision.parcels
    ]


def _allocated(order: NewOrder, decision: Decision, promise: Promise, at: datetime) -> Placement:
    return Placement(
        order.order_id,
        OrderStatus.ALLOCATED,
        order.placed_at,
        _allocations(decision),
        allocated_at=at,
        order_hours=order_hours(order.placed_at, at, order.speedup),
        promised_hours=promise.hours,
        promised_delivery_at=promise.delivery_at,
        sourcing=decision.as_dict(),
    )


def _backordered(order: NewOrder, decision: Decision, until: datetime) -> Placement:
    return Placement(
        order.order_id,
        OrderStatus.BACKORDERED,
        order.placed_at,
        reason=decision.reason,
        shortages=list(decision.decision.shortages),
        sourcing=decision.as_dict(),
        backorder_until=until,
    )


def _rejected(order: NewOrder, reason: str, decision: Decision | None) -> Placement:
    return Placement(
        order.order_id,
        OrderStatus.REJECTED,
        order.placed_at,
        reason=reason,
        shortages=list(decision.decision.shortages) if decision else [],
        unknown_skus=list(decision.unknown_skus) if decision else [],
        sourcing=decision.as_dict() if decision else None,
    )


def _placement_from(order: NewOrder, recorded: RecordedAllocation) -> Placement:
    """What an earlier attempt recorded, for an activity that runs again after committing."""
    parcels = (recorded.sourcing or {}).get("parcels", [])
    allocations = [
        Allocation(
            p["fulfilment_centre"],
            [OrderLine(line["sku"], line["quantity"]) for line in p["lines"]],
            p["distance_km"],
            p["handling_hours"],
            p["transit_hours"],
        )
        for p in parcels
    ]
    promise = recorded.promise
    return Placement(
        order.order_id,
        recorded.status,
        order.placed_at,
        allocations,
        allocated_at=recorded.allocated_at,
        promised_hours=promise.hours if promise else None,
        promised_delivery_at=promise.delivery_at if promise else None,
        reason=recorded.failure_reason,
        sourcing=recorded.sourcing,
    )
