"""Checks of the API's problem+json answers, shared by the unit, integration and e2e tests."""

from __future__ import annotations

from typing import Any

import httpx

from api.problems import PROBLEM_JSON


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem document of an error response, after checking its status and media type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body
