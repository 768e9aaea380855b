"""JSON log lines with request ids, for `tandem run`, `tandem scheduler` and gunicorn.

One JSON object per line on stderr: ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``msg``,
and ``request_id`` inside a request. Every response carries ``X-Request-ID``: the caller's
when it is sane (1-128 printable ASCII characters, no spaces), else a fresh one, so a
forged header can neither grow the logs nor smuggle control characters into them.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, request
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
SANE_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")
_request_id: ContextVar[str | None] = ContextVar("tandem_request_id", default=None)
# Loggers too chatty at INFO: APScheduler announces every run of every job.
QUIET_LOGGERS = ("apscheduler",)


def current_request_id() -> str | None:
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    """Adds the current request's id (or None outside requests) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get()
        return True


class TandemJsonFormatter(JsonFormatter):
    """python-json-logger with Tandem's field names."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "%(levelname)s %(name)s %(message)s %(request_id)s %(process)s")
        kwargs.setdefault(
            "rename_fields", {"levelname": "level", "name": "logger", "message": "msg"}
        )
        super().__init__(*args, **kwargs)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["ts"] = datetime.fromtimestamp(record.created, UTC).isoformat(
            timespec="milliseconds"
        )
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get()
        super().add_fields(log_data, record, message_dict)


_HANDLER_NAME = "tandem-json"

# A database error's text can carry the row's values: PostgreSQL's DETAIL line ("Key
# (phone)=(+1...) already exists", "Failing row contains (...)") and its input-syntax errors
# quote what was sent. Tracebacks keep their frames; those values never reach a log line.
_DB_VALUE_PATTERNS = (
    (re.compile(r"^(\s*)DETAIL:.*$", re.M), r"\1DETAIL: (values redacted)"),
    (re.compile(r'(invalid input (?:syntax|value) for [^:]*): ".*?"'), r"\1: (redacted)"),
    (re.compile(r"(\[parameters: ).*?(\])", re.S), r"\1(redacted)\2"),
)


def redact_database_values(text: str) -> str:
    """``text`` without the row values a database error message may quote."""
    for pattern, replacement in _DB_VALUE_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redacting_factory(previous: Any) -> Any:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = previous(*args, **kwargs)
        if record.exc_info and record.exc_info[0] is not None:
            text = "".join(traceback.format_exception(*record.exc_info))
            redacted = redact_database_values(text).rstrip("\n")
            if redacted != text.rstrip("\n"):
                # The formatter prints exc_text as it is; the raw exception is dropped.
                record.exc_text = redacted
                record.exc_info = None
        return record

    factory.tandem_redacting = True  # type: ignore[attr-defined]
    return factory


def install_log_redaction() -> None:
    """Make every log record redact database values in its traceback (idempotent)."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "tandem_redacting", False):
        logging.setLogRecordFactory(_redacting_factory(current))


def configure_logging(level: str = "INFO") -> None:
    """Send every logger's records to stderr as JSON lines (idempotent)."""
    install_log_redaction()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(TandemJsonFormatter())
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def sane_request_id(raw: str | None) -> str:
    """The caller's id when it is sane, else a new one."""
    if raw is not None and SANE_REQUEST_ID.fullmatch(raw):
        return raw
    return uuid.uuid4().hex


def register_request_ids(app: Flask) -> None:
    """Read or make the request id first, and send it back on every response."""
    install_log_redaction()

    @app.before_request
    def _take_request_id() -> None:
        request_id = sane_request_id(request.headers.get(REQUEST_ID_HEADER))
        g.request_id = request_id
        g.request_id_token = _request_id.set(request_id)

    @app.after_request
    def _give_request_id(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id is not None:
            response.headers[REQUEST_ID_HEADER] = request_id
        return response

    @app.teardown_request
    def _forget_request_id(_exc: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            _request_id.reset(token)
