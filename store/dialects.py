"""What differs between PostgreSQL and SQLite, named once: row locks and insert-on-conflict.

SQLite (the embedded default) has one writer at a time: every transaction begins IMMEDIATE
(store.database), so the row locks PostgreSQL needs are no-ops there.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

POSTGRESQL = "postgresql"

_S = TypeVar("_S", bound=Select[Any])


def is_postgresql(bind: Session | Engine | Connection) -> bool:
    """True when ``bind`` talks to PostgreSQL (else it is SQLite)."""
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name == POSTGRESQL


def insert_or_skip(session: Session | Engine | Connection, table: Any) -> Any:
    """The dialect's INSERT for ``table``, which offers ``on_conflict_do_nothing``."""
    return (postgresql.insert if is_postgresql(session) else sqlite.insert)(table)


def for_update(query: _S, bind: Session | Engine | Connection, **options: Any) -> _S:
    """``query`` FOR UPDATE on PostgreSQL (``skip_locked``, ``of`` as given); as is on SQLite."""
    return query.with_for_update(**options) if is_postgresql(bind) else query
