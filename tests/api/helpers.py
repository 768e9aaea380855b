"""Assertions shared by the API tests: problem documents and "nothing was stored"."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from werkzeug.test import TestResponse

from store import Database
from store.models import Base

PROBLEM_JSON = "application/problem+json"
PROBLEM_KEYS = {"type", "title", "status", "detail"}


def assert_problem(response: TestResponse, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem document with ``status``; returns its body."""
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    assert response.mimetype == PROBLEM_JSON, response.headers
    body: dict[str, Any] = json.loads(text)
    assert body.keys() >= PROBLEM_KEYS, body
    assert body["status"] == status
    assert all(isinstance(body[k], str) and body[k] for k in ("type", "title", "detail"))
    assert "Traceback" not in text and "<html" not in text.lower()
    return body


def row_counts(database: Database) -> dict[str, int]:
    """Rows in every table: compare before and after a refused request."""
    with database.session() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }
