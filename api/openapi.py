"""The OpenAPI document as the API really answers: every error a problem+json document, and
the answers of the middleware (413, 429, admission control's 503) and of the database handler
(503) declared.

The routes declare their own outcomes; what applies to all of them is added here, in one
place, so that a client (and the schemathesis run in tests/e2e) can rely on the document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.admission import ADMITTED_METHOD, ADMITTED_PATH
from api.limits import UNLIMITED_PATHS
from api.problems import PROBLEM_JSON
from api.schemas import ProblemPublic

PROBLEM_REF = "#/components/schemas/Problem"
RETRY_AFTER = {
    "description": "Whole seconds to wait before retrying.",
    "schema": {"type": "integer", "minimum": 1},
}
# FastAPI's own 422 body, which the problem handlers replace (api/problems.py).
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
# Paths that never touch the app database: no 503 of the database handler.
NO_DATABASE_PATHS = frozenset({"/healthz", "/metrics"})


class DomsApi(FastAPI):
    """FastAPI with the OpenAPI document completed by `complete_document`."""

    def openapi(self) -> dict[str, Any]:
        if not self.openapi_schema:  # FastAPI's document, completed once and then kept
            self.openapi_schema = complete_document(super().openapi())
        return self.openapi_schema


def complete_document(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    problem = ProblemPublic.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            _complete_operation(path, operation)
            if (method.upper(), path) == (ADMITTED_METHOD, ADMITTED_PATH):
                _declare_shedding(operation)
    for name in FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    return document


def _declare_shedding(operation: dict[str, Any]) -> None:
    """Admission control's 503 (api/admission.py), beside the route's own."""
    unavailable = operation["responses"]["503"]
    unavailable["description"] += (
        "; or this API process has more orders in hand than it can answer in time "
        "(`Overloaded`, nothing was changed: retry after Retry-After)"
    )
    unavailable["headers"] = {"Retry-After": RETRY_AFTER}


def _complete_operation(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if "requestBody" in operation:
        responses.setdefault("413", {"description": "Request body too large"})
    if path not in UNLIMITED_PATHS:
        responses.setdefault("429", {"description": "Over the client's rate limit"})
        responses["429"]["headers"] = {"Retry-After": RETRY_AFTER}
    if path not in NO_DATABASE_PATHS:
        responses.setdefault("503", {"description": "The database is busy or unreachable"})
    for status, response in responses.items():
        if status.startswith(("4", "5")):
            response["content"] = {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}
            if status == "422" and response.get("description") == "Validation Error":
                response["description"] = "Invalid input; the problem names each field at fault"
