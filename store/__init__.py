"""Persistence: SQLAlchemy models, Alembic migrations and the unit of work."""

from store.database import Database, after_commit

__all__ = ["Database", "after_commit"]
