"""`tandem run` logs JSON lines on stderr and answers with request ids (a real process)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.faults.topology import free_port


def test_tandem_run_logs_json_lines(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "TANDEM_ENV": "development",
        "TANDEM_INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'tandem.sqlite3'}",
    }
    tandem = str(Path(sys.executable).with_name("tandem"))
    subprocess.run([tandem, "db", "upgrade"], env=env, check=True, capture_output=True)
    proc = subprocess.Popen(
        [tandem, "run", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = requests.get(
                    f"http://127.0.0.1:{port}/readyz",
                    headers={"X-Request-ID": "run-probe-1"},
                    timeout=1,
                )
                break
            except requests.RequestException:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.2)
        assert response.headers["X-Request-ID"] == "run-probe-1"
        assert response.status_code == 200
        time.sleep(6)  # one election tick: the embedded process takes the lead
        assert (
            requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()["checks"]["scheduler"]
            == "ok"
        )
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=20)
    lines = [line for line in err.decode().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any("now leads" in r["msg"] for r in records), lines
    for record in records:
        assert {"ts", "level", "logger", "msg", "request_id"} <= record.keys()
        assert not record["logger"].startswith("apscheduler") or record["level"] != "INFO"
