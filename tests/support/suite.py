"""What the suite's fixtures are built from: the databases, the login helper and the log scan."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import text

from store import Database
from store.models import Base
from tests.support.world import World

PG_URL = os.environ.get("TEST_DATABASE_URL", "").strip()


START = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)


def reset_postgres(url: str) -> None:
    """Drop everything in the public schema."""
    database = Database(url)
    with database.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    database.dispose()


def truncate_all(database: Database) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with database.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@dataclass
class Auth:
    """Logs users in through the API and hands out their headers."""

    client: FlaskClient
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)

    def login(self, username: str, password: str) -> dict[str, Any]:
        response = self.client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.get_json()
        body: dict[str, Any] = response.get_json()
        self.tokens[username] = body
        return body

    def headers(self, username: str, password: str | None = None) -> dict[str, str]:
        if username not in self.tokens:
            self.login(username, password or World.PASSWORD)
        return {"Authorization": f"Bearer {self.tokens[username]['access_token']}"}


# --- issue 9: no PHI or secret in any log line of the whole run ------------------------------
# Every record any logger emits during the session is formatted (with its exception) and
# scanned; the session fails at its end if one holds a phone number, a name, a token, a code,
# a password or an answer. The one exempt line is the log SMS backend's message itself (the
# development "phone", refused in production): it prints the text a patient would receive.
LOG_LEAKS = {
    "phone number": re.compile(r"\d{3}\)?[-. ]?555[-. ]?01\d\d"),
    "token": re.compile(r"eyJ[\w-]{10,}\.[\w-]{10,}"),
    "password": re.compile(r"correct horse battery|wrong password|Patient-[0-9a-f]{16}"),
    "name": re.compile(r"Test Patient|Jordan Example|Alex Example"),
    "code": re.compile(r"(?i)\bcode\b\W{0,3}\d{6}\b"),
    "answers": re.compile(r"""(?i)['"]?answers['"]?\s*[:=]\s*\["""),
}


class LeakScanner(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.leaks: list[str] = []
        self.seen = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "tandem.sms" and record.getMessage().startswith("SMS LOG"):
            return
        try:
            line = self.format(record)
        except Exception:
            return
        self.seen += 1
        for kind, pattern in LOG_LEAKS.items():
            if pattern.search(line):
                self.leaks.append(f"{kind}: {line[:300]}")
