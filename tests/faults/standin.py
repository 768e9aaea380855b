"""A loopback Twilio stand-in that can fail on purpose: 429, 500, slow answers, no listener.

It speaks just enough of the Messages API for the real Twilio SDK: a form POST to
/2010-04-01/Accounts/<sid>/Messages.json answered with a 201 JSON message. Every message
body carries a marker ("[m-123]"), so the stand-in can count what it accepted per marker.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "7" * 32
AUTH_TOKEN = "f" * 32
FROM_NUMBER = "+12025550198"
MARKER = re.compile(r"\[(m-\d+)\]")

# What to do with the n-th request (0-based): "ok", "429", "500" or "slow".
Plan = Callable[[int], str]


def always_ok(_n: int) -> str:
    return "ok"


class TwilioStandIn:
    """Counts accepted messages per marker; the plan decides how each request is answered."""

    def __init__(self, *, delay: float = 0.0, slow_seconds: float = 1.0) -> None:
        self.delay = delay
        self.slow_seconds = slow_seconds
        self.plan: Plan = always_ok
        self.accepted: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.requests = 0
        # Every accepted message: (monotonic time, To, Body).
        self.messages: list[tuple[float, str, str]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                stand_in.answer(self, form)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)

    def refuse_for(self, seconds: float) -> None:
        """Stop listening (connections are refused), then listen again on the same port."""
        self.stop()
        time.sleep(seconds)
        self.start()

    def answer(self, handler: BaseHTTPRequestHandler, form: dict[str, list[str]]) -> None:
        with self._lock:
            n = self.requests
            self.requests += 1
        action = self.plan(n)
        body = form.get("Body", [""])[0]
        match = MARKER.search(body)
        marker = match.group(1) if match else "?"
        if self.delay:
            time.sleep(self.delay)
        if action in ("429", "500"):
            status = int(action)
            payload = {
                "code": 20429 if status == 429 else 20500,
                "status": status,
                "message": "Too Many Requests" if status == 429 else "Internal error",
                "more_info": "https://www.twilio.com/docs/errors",
            }
            with self._lock:
                self.outcomes[action] += 1
            self._reply(handler, status, payload, retry_after=1 if status == 429 else None)
            return
        if action == "slow":
            # Twilio takes the message but answers after the client has given up.
            time.sleep(self.slow_seconds)
            with self._lock:
                self.outcomes["slow"] += 1
                self.accepted[marker] += 1
            self._reply(handler, 201, self._message(form))
            return
        with self._lock:
            self.outcomes["ok"] += 1
            self.accepted[marker] += 1
            self.messages.append((time.monotonic(), form.get("To", [""])[0], body))
        self._reply(handler, 201, self._message(form))

    @staticmethod
    def _message(form: dict[str, list[str]]) -> dict[str, object]:
        return {
            "sid": "SM" + secrets.token_hex(16),
            "status": "queued",
            "account_sid": ACCOUNT_SID,
            "to": form.get("To", [""])[0],
            "body": form.get("Body", [""])[0],
        }

    @staticmethod
    def _reply(
        handler: BaseHTTPRequestHandler,
        status: int,
        payload: Mapping[str, object],
        retry_after: int | None = None,
    ) -> None:
        data = json.dumps(payload).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            if retry_after is not None:
                handler.send_header("Retry-After", str(retry_after))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass  # the client timed out and went away
