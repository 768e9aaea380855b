"""Waking dispatchers: the in-process nudge after a commit that queued messages.

Other processes are woken by ``NOTIFY`` on :data:`NOTIFY_CHANNEL` (PostgreSQL only).
"""

from __future__ import annotations

import threading

NOTIFY_CHANNEL = "tandem_outbox"

# Processes register an event here; a commit that queued SMS sets them all.
_wakers: set[threading.Event] = set()
_wakers_lock = threading.Lock()


def register_waker(event: threading.Event) -> None:
    with _wakers_lock:
        _wakers.add(event)


def unregister_waker(event: threading.Event) -> None:
    with _wakers_lock:
        _wakers.discard(event)


def wake_dispatchers() -> None:
    """Wake this process's dispatchers at once (the in-process nudge)."""
    with _wakers_lock:
        events = list(_wakers)
    for event in events:
        event.set()


def workers_running() -> bool:
    """Whether this process has a dispatcher thread waiting to be woken."""
    with _wakers_lock:
        return bool(_wakers)
