"""Reports: the paper's three tables from the store, filtered by mode and placement time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.auth import AUTH_RESPONSES, OPERATOR_ONLY
from api.deps import SessionDep
from api.problems import invalid_field
from api.schemas import FulfilmentReportPublic, PerformanceReportPublic, SatisfactionReportPublic
from domain.orders import Mode
from store import reports
from store.reports import ReportWindow

router = APIRouter(
    prefix="/reports", tags=["reports"], dependencies=OPERATOR_ONLY, responses=AUTH_RESPONSES
)
PROBLEMS: dict[int | str, dict[str, Any]] = {
    422: {"description": "Invalid filter, e.g. since after until; the problem names the field"},
}
WHEN = "ISO 8601; without a zone it is taken as UTC. Filters on the order's placement time."


def _window(
    mode: Mode | None = None,
    since: Annotated[datetime | None, Query(description=f"From (inclusive). {WHEN}")] = None,
    until: Annotated[datetime | None, Query(description=f"To (inclusive). {WHEN}")] = None,
) -> ReportWindow:
    since, until = _utc(since), _utc(until)
    if since is not None and until is not None and since > until:
        raise invalid_field("since", "must not be after until")
    return ReportWindow(mode=mode, since=since, until=until)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


WindowDep = Annotated[ReportWindow, Depends(_window)]


@router.get("/performance", responses=PROBLEMS)
async def performance(session: SessionDep, window: WindowDep) -> PerformanceReportPublic:
    """Table 4.1: orders placed per mode, by status, with achieved orders/s and orders/hour."""
    report = await reports.performance(session, window)
    return PerformanceReportPublic.model_validate(report, from_attributes=True)


@router.get("/fulfilment", responses=PROBLEMS)
async def fulfilment(session: SessionDep, window: WindowDep) -> FulfilmentReportPublic:
    """Table 4.2: mean T_order, T_shipping, T_delivery and T_f (p50, p95) of delivered orders."""
    report = await reports.fulfilment(session, window)
    return FulfilmentReportPublic.model_validate(report, from_attributes=True)


@router.get("/satisfaction", responses=PROBLEMS)
async def satisfaction(session: SessionDep, window: WindowDep) -> SatisfactionReportPublic:
    """Table 4.3: mean survey ratings per mode and order type; `satisfaction` is the headline."""
    report = await reports.satisfaction(session, window)
    return SatisfactionReportPublic.model_validate(report, from_attributes=True)
