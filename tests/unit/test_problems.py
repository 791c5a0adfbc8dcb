"""Errors the API maps to problem+json: a busy database is a 503 to retry, not a 500."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api.problems import PROBLEM_JSON, install_problem_handlers


def test_a_locked_sqlite_database_answers_503_with_retry_after(tmp_path: Path) -> None:
    database = tmp_path / "app.db"
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN EXCLUSIVE")  # another process writing: nobody else may
    engine = create_engine(f"sqlite:///{database}", connect_args={"timeout": 0})

    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/write")
    def write() -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (1)"))

    try:
        response = TestClient(app, raise_server_exceptions=False).post("/write")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()

    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["retry-after"] == "1"
    assert response.json()["title"] == "Database unavailable"
