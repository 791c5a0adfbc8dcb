"""Prometheus metrics of this API process (observability/metrics.py)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from observability.metrics import exposition

# Open, like the probes: /metrics is for Prometheus on an internal scrape network, which
# should be the only one that reaches it (DEPLOYMENT.md).
router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response)
async def metrics() -> Response:
    """Orders placed and allocated here, and POST /orders latency, as Prometheus text."""
    body, media_type = exposition()
    return Response(body, media_type=media_type)
