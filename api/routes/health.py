"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from api.deps import SessionDep, TemporalDep
from api.problems import Problem
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


@router.get("/readyz", responses={503: {"description": "A dependency is unavailable"}})
async def readyz(session: SessionDep, temporal: TemporalDep) -> Health:
    """Ready when the app database and Temporal both answer."""
    checks = {"database": "ok", "temporal": "ok"}
    try:
        await session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means not ready; say which
        checks["database"] = f"unavailable: {exc.__class__.__name__}"
    try:
        await temporal.service_client.check_health()
    except Exception as exc:
        checks["temporal"] = f"unavailable: {exc.__class__.__name__}"
    if any(value != "ok" for value in checks.values()):
        raise Problem(503, "Not ready", "a dependency is unavailable", checks=checks)
    return Health(status="ready", checks=checks)
