"""The durable outbox of SMS, voice calls and pager events, and its dispatcher.

A message is a row written in the same transaction as the change that causes it,
so it exists exactly when that change does. The dispatcher claims due rows,
sends them outside any transaction, and records the result; a crash between
send and record leaves the row claimed until its lease ends, after which it is
sent again (at most one duplicate, never a loss).

The parts: `status` (a row's states and channels), `enqueue` (queueing in the caller's
transaction), `wake` (nudging dispatchers after a commit), `claim` (claiming under a lease,
renewing, releasing), `checks` (pre-send checks that defer or cancel), `retry` (back-off and
failing for good), `dispatcher` (claim, send, record) and `worker` (the thread that drains
when woken and LISTENs on PostgreSQL). This package re-exports what its callers use.
"""

from notifications.outbox.checks import Hold, PreSendCheck
from notifications.outbox.claim import DEMO_SUPPRESSED, LEASE
from notifications.outbox.dispatcher import Dispatcher, DispatchStats
from notifications.outbox.enqueue import NewSms, enqueue_many, enqueue_sms
from notifications.outbox.retry import MAX_ATTEMPTS, FailureListener
from notifications.outbox.status import (
    CANCELLED,
    FAILED,
    PENDING,
    SENDING,
    SENT,
    Channel,
    OutboxStatus,
)
from notifications.outbox.wake import register_waker, unregister_waker, wake_dispatchers
from notifications.outbox.worker import DispatcherWorker

__all__ = [
    "CANCELLED",
    "DEMO_SUPPRESSED",
    "FAILED",
    "LEASE",
    "MAX_ATTEMPTS",
    "PENDING",
    "SENDING",
    "SENT",
    "Channel",
    "DispatchStats",
    "Dispatcher",
    "DispatcherWorker",
    "FailureListener",
    "Hold",
    "NewSms",
    "OutboxStatus",
    "PreSendCheck",
    "enqueue_many",
    "enqueue_sms",
    "register_waker",
    "unregister_waker",
    "wake_dispatchers",
]
