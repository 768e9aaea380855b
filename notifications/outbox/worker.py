"""The dispatcher thread: drains the outbox when woken, sweeps it on a timer regardless."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from notifications.outbox.dispatcher import Dispatcher
from notifications.outbox.wake import NOTIFY_CHANNEL, register_waker, unregister_waker
from store.dialects import is_postgresql

log = logging.getLogger("tandem.outbox")

DEFAULT_CONCURRENCY = 4


class DispatcherWorker:
    """A thread that drains the outbox when woken, and sweeps it on a timer regardless.

    Woken in-process by :func:`wake_dispatchers` after a commit that queued SMS and, on
    PostgreSQL, by ``NOTIFY tandem_outbox`` from any process (a second thread LISTENs on a
    dedicated connection). The sweep is the safety net for a missed wake-up.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        sweep_seconds: float,
        listen: bool | None = None,
        concurrency: int | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.sweep_seconds = sweep_seconds
        postgres = is_postgresql(dispatcher.database.engine)
        # LISTEN by default whenever the outbox lives in PostgreSQL.
        self.listen = postgres if listen is None else listen
        # Sends wait on the network, so a burst of pages goes out over several connections;
        # SKIP LOCKED keeps the senders apart. SQLite has one writer: one sender is enough.
        self.concurrency = max(
            1, concurrency if concurrency is not None else (DEFAULT_CONCURRENCY if postgres else 1)
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self.listening = threading.Event()

    def start(self) -> None:
        register_waker(self._wake)
        self._thread = threading.Thread(target=self._loop, name="outbox-dispatcher", daemon=True)
        self._thread.start()
        if self.listen:
            self._listener = threading.Thread(
                target=self._listen_loop, name="outbox-listener", daemon=True
            )
            self._listener.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the send in flight, release the rest of the batch, then return."""
        self._stop.set()
        self.dispatcher.stopping.set()
        self._wake.set()
        unregister_waker(self._wake)
        for thread in (self._thread, self._listener):
            if thread is not None:
                thread.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        # This worker is done; the dispatcher itself may still be used (a command, a test).
        self.dispatcher.stopping.clear()

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        # Never sleep past a quarter lease: a row a dead process claimed is due again within
        # LEASE + LEASE/4 = 25 s, inside the 30 s an urgent page may wait.
        wait = min(self.sweep_seconds, self.dispatcher.lease.total_seconds() / 4)
        while not self._stop.is_set():
            self._wake.wait(wait)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self._drain()
            except Exception:
                # Logged with context; the rows stay due and the next wake or sweep retries them.
                log.exception("outbox dispatch pass failed; will retry on the next pass")

    def _drain(self) -> None:
        if self.concurrency == 1:
            self.dispatcher.drain()
            return
        # Small batches so every sender gets a share of a burst.
        per_sender = max(1, min(self.dispatcher.batch_size, 4))
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="outbox-send")
        futures = [
            self._pool.submit(self.dispatcher.drain, limit=per_sender)
            for _ in range(self.concurrency)
        ]
        for future in futures:
            future.result()

    def _conninfo(self) -> str:
        url = self.dispatcher.database.engine.url.set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    def _listen_loop(self) -> None:
        """LISTEN on a dedicated autocommit connection; reconnect (with a pause) if it drops."""
        import psycopg

        pause = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo(), autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.listening.set()
                    pause = 0.5
                    # A notification may have come before LISTEN took effect: drain once.
                    self._wake.set()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self._wake.set()
            except Exception:
                self.listening.clear()
                log.exception("outbox LISTEN connection failed; reconnecting")
                # The sweep still runs meanwhile, so nothing waits longer than a sweep.
                self._stop.wait(pause)
                pause = min(pause * 2, 30.0)
        self.listening.clear()
