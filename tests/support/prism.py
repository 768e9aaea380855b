"""Prism serving Twilio's OpenAPI spec: contract tests of the real SDK against Twilio's schema."""

from __future__ import annotations

import contextlib
import copy
import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SETUP_SCRIPT = REPO_ROOT / "scripts" / "prism-setup"
MESSAGES_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"

# Twilio's legacy error body. No "type" field: with one, twilio 9.13 reads the body as an
# RFC 9457 problem and raises TwilioServiceException instead of TwilioRestException.
_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "message", "status"],
    "properties": {
        "code": {"type": "integer"},
        "message": {"type": "string"},
        "more_info": {"type": "string"},
        "status": {"type": "integer"},
    },
}


def _error(code: int, status: int, message: str) -> dict[str, Any]:
    return {
        "value": {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
    }


# Select one per request with `Prefer: code=<status>, example=<name>`.
ERROR_EXAMPLES: dict[int, dict[str, dict[str, Any]]] = {
    400: {
        "unsubscribed": _error(21610, 400, "Attempt to send to unsubscribed recipient"),
        "invalid_number": _error(
            21211, 400, "The 'To' number +15550100 is not a valid phone number."
        ),
    },
    429: {"too_many": _error(20429, 429, "Too Many Requests")},
    500: {"server_error": _error(20500, 500, "Internal Server Error")},
}

# What the patched 429 advertises in Retry-After; Prism answers with the example value.
RETRY_AFTER_SECONDS = 2

SETUP_TIMEOUT_S = 600.0
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


class PrismUnavailableError(RuntimeError):
    """Prism or the Twilio spec could not be installed or started."""


@dataclass(frozen=True, slots=True)
class PrismTools:
    """Where scripts/prism-setup put the Prism binary and Twilio's spec."""

    prism: Path
    spec: Path


def cache_dir() -> Path:
    """The folder scripts/prism-setup fills (the same override variable as the script)."""
    override = os.environ.get("TWILIO_PRISM_CACHE")
    return Path(override) if override else REPO_ROOT / ".cache" / "twilio-prism"


def _tools() -> PrismTools:
    folder = cache_dir()
    return PrismTools(
        prism=folder / "node_modules" / ".bin" / "prism", spec=folder / "twilio_api_v2010.json"
    )


def _installed(tools: PrismTools) -> bool:
    return tools.prism.exists() and tools.spec.is_file() and tools.spec.stat().st_size > 0


_setup_lock = threading.Lock()


def ensure_prism_tools() -> PrismTools:
    """Return the installed tools, running scripts/prism-setup once if something is missing."""
    with _setup_lock:
        tools = _tools()
        if _installed(tools):
            return tools
        try:
            done = subprocess.run(
                ["bash", str(SETUP_SCRIPT)],
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                timeout=SETUP_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PrismUnavailableError(f"could not run {SETUP_SCRIPT}: {exc}") from exc
        if done.returncode != 0 or not _installed(tools):
            output = (done.stdout + done.stderr).strip()[-2000:]
            raise PrismUnavailableError(
                "the Twilio contract tests need Node 20 + npm to install Prism and the Twilio "
                f"spec; `bash scripts/prism-setup` failed (exit {done.returncode}):\n{output}\n"
                'Run it by hand to see why, or deselect these tests with -m "not prism".'
            )
        return tools


def patched_spec(source: dict[str, Any]) -> dict[str, Any]:
    """A copy of Twilio's v2010 spec whose send-a-message operation also documents errors."""
    spec = copy.deepcopy(source)
    responses = spec["paths"][MESSAGES_PATH]["post"]["responses"]
    for status, examples in ERROR_EXAMPLES.items():
        response: dict[str, Any] = {
            "description": f"Twilio error ({status})",
            "content": {
                "application/json": {"schema": _ERROR_SCHEMA, "examples": copy.deepcopy(examples)}
            },
        }
        if status == 429:
            response["headers"] = {
                "Retry-After": {
                    "schema": {"type": "integer", "minimum": 0},
                    "example": RETRY_AFTER_SECONDS,
                }
            }
        responses[str(status)] = response
    # Prism answers a request that breaks the schema with the operation's 422, else its 400,
    # which would now be the 21610 example. A bodiless 422 keeps "Prism rejected the request"
    # apart from the Twilio errors a test asked for (Prism still lists why in `sl-violations`).
    responses["422"] = {"description": "The request does not match Twilio's schema (Prism)"}
    return spec


def write_patched_spec(*, source: Path, dest: Path) -> Path:
    """Write the error-patched copy of the spec at `source` to `dest`."""
    with source.open(encoding="utf-8") as handle:
        original = json.load(handle)
    dest.write_text(json.dumps(patched_spec(original)), encoding="utf-8")
    return dest


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        connection.request("GET", "/")
        connection.getresponse().read()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate Prism and everything it spawned (it runs in its own process group)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT_S)
    else:
        # Prism itself is gone, but a child could have outlived it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def prism_server(
    *, spec: Path, tools: PrismTools | None = None, start_timeout: float = START_TIMEOUT_S
) -> Iterator[str]:
    """Run `prism mock` on a free local port for the duration of the block; yield its base URL."""
    tools = tools or ensure_prism_tools()
    with tempfile.TemporaryFile() as log:
        outcome = "exited"
        # The free port can be taken between our probe and Prism's bind, so try a few.
        for _attempt in range(3):
            port = _free_port()
            process = subprocess.Popen(
                [str(tools.prism), "mock", "-h", "127.0.0.1", "-p", str(port), str(spec)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                outcome = _wait_until_ready(process, port=port, timeout=start_timeout)
                if outcome == "ready":
                    yield f"http://127.0.0.1:{port}"
                    return
            finally:
                _stop(process)
            if outcome == "timeout":
                break
        log.seek(0)
        output = log.read().decode("utf-8", "replace")[-3000:]
    raise PrismUnavailableError(f"Prism did not start serving {spec} ({outcome}):\n{output}")


def _wait_until_ready(process: subprocess.Popen[bytes], *, port: int, timeout: float) -> str:
    """Wait for Prism: "ready" once it answers HTTP, "exited" if it died first, else "timeout"."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return "exited"
        # Check the process again after an answer: a stranger may own the port.
        if _answers(port) and process.poll() is None:
            return "ready"
        time.sleep(0.1)
    return "timeout"
