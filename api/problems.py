"""RFC 9457 problem details (`application/problem+json`) for every error the API returns."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger("doms.api")


class Problem(Exception):
    """An error the API answers with; `extra` members are added to the problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return problem_body(self.status, self.title, self.detail, **self.extra)


def problem_body(status: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}


def problem_response(
    status: int,
    title: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = problem_body(status, title, detail, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def field_problem(status: int, title: str, field: str, message: str) -> Problem:
    """A problem with one input, named in `errors` as every 422 names its fields."""
    return Problem(
        status, title, f"{field}: {message}", errors=[{"field": field, "message": message}]
    )


def invalid_field(field: str, message: str) -> Problem:
    return field_problem(422, "Invalid request", field, message)


def _field_of(error: Mapping[str, Any]) -> str:
    if error["type"] == "json_invalid":  # its location is a character offset, not a field
        return "body"
    parts = [str(part) for part in error["loc"] if part not in ("body", "query", "path")]
    return ".".join(parts) or "body"


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": _field_of(error), "message": error["msg"]} for error in exc.errors()]
    first = errors[0] if errors else {"field": "body", "message": "invalid request"}
    detail = f"{first['field']}: {first['message']}"
    return problem_response(422, "Invalid request", detail, errors=errors)


async def _on_problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc.status, exc.title, exc.detail, exc.headers, **exc.extra)


async def _on_http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
        # FastAPI's answer to a body it cannot decode (not UTF-8): bad input like any other,
        # so the same 422 as a body that is not JSON.
        message = "the body is not valid UTF-8 JSON text"
        detail = f"body: {message}"
        return problem_response(
            422, "Invalid request", detail, errors=[{"field": "body", "message": message}]
        )
    return problem_response(exc.status_code, str(exc.detail), str(exc.detail), exc.headers)


async def _on_database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database is busy (SQLite's single writer under load) or unreachable.

    The transaction rolled back, so nothing was half-done: the client may simply retry.
    """
    logger.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return problem_response(
        503,
        "Database unavailable",
        "the database is busy or unreachable; nothing was changed, retry shortly",
        headers={"Retry-After": "1"},
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "Internal error", "the server failed; the error was logged")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(OperationalError, _on_database_unavailable)
    app.add_exception_handler(Exception, _on_unexpected)
