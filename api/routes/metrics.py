"""Prometheus metrics of this API process (observability/metrics.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from observability.metrics import exposition

# Open, like the probes: /metrics is for Prometheus on an internal scrape network, which
# should be the only one that reaches it (DEPLOYMENT.md).
router = APIRouter(tags=["metrics"])


PROMETHEUS_TEXT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Prometheus text exposition format",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


@router.get("/metrics", response_class=Response, responses=PROMETHEUS_TEXT)
async def metrics() -> Response:
    """Orders placed and allocated here, and POST /orders latency, as Prometheus text."""
    body, media_type = exposition()
    return Response(body, media_type=media_type)
