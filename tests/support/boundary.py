"""The boundary tests' helpers: a patient's token, a connection killed on a marker."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_jwt_extended import create_access_token
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from store import Database


def patient_token(app: Flask) -> str:
    with app.app_context():
        token: str = create_access_token(
            identity="5", additional_claims={"role": "patient", "clinic_id": 1, "sid": "s"}
        )
    return token


def kill_on(database: Database, killer: Engine, marker: str) -> None:
    """Terminate the request's own PostgreSQL backend when it is about to run `marker`."""
    fired: list[bool] = []

    @event.listens_for(database.engine, "before_cursor_execute")
    def _kill(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if fired or marker not in statement:
            return
        fired.append(True)
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with killer.begin() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
