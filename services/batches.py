"""One pass of a scheduled job over its due rows: what it handled, and what it could not."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

log = logging.getLogger("tandem.scheduler")


@dataclass
class Batch:
    """The outcome of one batch: ``failed`` names the items (by id) that raised.

    ``full`` says the batch reached its limit, so more rows may be due at once.
    """

    handled: int = 0
    full: bool = False
    failed: list[str] = field(default_factory=list)

    def attempt(self, session: Session, item: str, work: Callable[[], bool]) -> None:
        """Run one item's ``work`` in a savepoint; True counts it as handled.

        An item that raises is rolled back alone, logged with its id and named in ``failed``,
        so the rest of the batch still commits and the job can end as a failed run. The
        item's rows are left as they were: it stays due for the next run.
        """
        try:
            with session.begin_nested():
                done = work()
        except Exception:
            self.fail(item)
            return
        if done:
            self.handled += 1

    def fail(self, item: str) -> None:
        """Log the exception being handled with the item's id, and name the item in ``failed``."""
        log.exception("%s could not be handled; it stays due for the next run", item)
        self.failed.append(item)
