"""The README's copy-paste session, run as printed against `tandem run` on `tandem demo`'s data.

Real processes as a newcomer runs them: `tandem db upgrade` and `tandem demo` (what
`make demo` does), then `tandem run` on a free port (SQLite in a temporary folder, SMS to
the log). The session block is cut out of README.md between its markers and run by bash
with only the port changed; every `#=>` line must appear in what its step printed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from apscheduler.schedulers.background import BackgroundScheduler

from schedules.jobs import job_table, register_jobs
from services.runtime import Runtime
from tests.faults.topology import free_port

ROOT = Path(__file__).resolve().parents[2]
TANDEM = str(Path(sys.executable).with_name("tandem"))
START, END = "<!-- readme-session:start -->", "<!-- readme-session:end -->"
README_API = "API=http://127.0.0.1:5000/api/v1"
STEP = re.compile(r"^# (\d+)\. ")
LOGIN = re.compile(r"^\s+(admin|clinician \(tier \d\)|patient)\s+(\S+)\s+(\S+)$", re.M)


@dataclass
class Step:
    number: int
    title: str
    expected: list[str]


def session_block() -> str:
    text = (ROOT / "README.md").read_text()
    assert text.count(START) == 1 and text.count(END) == 1
    block = text[text.index(START) + len(START) : text.index(END)].strip()
    assert block.startswith("```sh\n") and block.endswith("\n```")
    return block.removeprefix("```sh\n").removesuffix("\n```")


def steps_of(block: str) -> list[Step]:
    steps: list[Step] = []
    for line in block.splitlines():
        if match := STEP.match(line):
            steps.append(Step(int(match.group(1)), line, []))
        elif line.startswith("#=> "):
            assert steps, "an expectation before the first step"
            steps[-1].expected.append(line.removeprefix("#=> "))
    return steps


def instrumented(block: str, port: int) -> str:
    """The block with only the port changed and a marker echoed before each step."""
    assert block.count(README_API) == 1
    out = []
    for line in block.replace(README_API, f"API=http://127.0.0.1:{port}/api/v1").splitlines():
        if match := STEP.match(line):
            out.append(f'echo; echo "@@step {match.group(1)}@@"')
        out.append(line)
    return "\n".join(out) + "\n"


def env_for(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "TANDEM_ENV": "development",
        "TANDEM_INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'tandem.sqlite3'}",
        "SMS_BACKEND": "log",
    }


@dataclass
class Served:
    port: int
    demo_output: str
    proc: subprocess.Popen[bytes]

    def stop(self) -> list[str]:
        """SIGTERM, as an operator stops it: exits 0; returns its log lines."""
        self.proc.send_signal(signal.SIGTERM)
        _out, err = self.proc.communicate(timeout=20)
        assert self.proc.returncode == 0, err.decode()[-2000:]
        return [line for line in err.decode().splitlines() if line.strip()]


@pytest.fixture
def served_demo(tmp_path: Path) -> Iterator[Served]:
    """`make demo`'s commands, then `tandem run` on a free port."""
    # A folder of its own: the suite's database fixture lives in tmp_path itself.
    tmp_path = tmp_path / "newcomer"
    tmp_path.mkdir()
    env = env_for(tmp_path)
    subprocess.run([TANDEM, "db", "upgrade"], env=env, cwd=tmp_path, check=True, timeout=120)
    demo = subprocess.run(
        [TANDEM, "demo"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert demo.returncode == 0, demo.stderr
    port = free_port()
    proc = subprocess.Popen(
        [TANDEM, "run", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except requests.RequestException:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        yield Served(port, demo.stdout, proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=20)


def test_the_readme_session_answers_as_the_readme_says(
    served_demo: Served, tmp_path: Path, rt: Runtime
) -> None:
    port, demo_output = served_demo.port, served_demo.demo_output
    block = session_block()
    steps = steps_of(block)
    assert [s.number for s in steps] == list(range(1, len(steps) + 1))
    assert len(steps) >= 6 and all(s.expected for s in steps)
    # The session signs in with logins `tandem demo` printed, exactly as printed.
    printed = {(user, password) for _, user, password in LOGIN.findall(demo_output)}
    used = set(re.findall(r'"username": "([^"]+)", "password": "([^"]+)"', block))
    assert len(used) == 2 and used <= printed, (used, printed)

    script = tmp_path / "session.sh"
    script.write_text(instrumented(block, port))
    run = subprocess.run(
        ["bash", "-euo", "pipefail", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env_for(tmp_path),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    outputs = dict(re.findall(r"@@step (\d+)@@\n(.*?)(?=\n@@step |\Z)", run.stdout, re.S))
    for step in steps:
        said = outputs[str(step.number)]
        # No step was refused: no problem document in any answer.
        assert '"type":"' not in said or "/problems/" not in said, (step.title, said)
        for expected in step.expected:
            assert expected in said, (step.title, expected, said[:2000])

    # The log of that run (`make run`'s log): nobody was texted, APScheduler is quiet at
    # INFO and every job is named by its id.
    records = [json.loads(line) for line in served_demo.stop()]
    assert not any(r["logger"] == "tandem.sms" and "SMS LOG" in r["msg"] for r in records)
    assert any("not sent: demo clinic" in r["msg"] for r in records)
    assert not any(r["logger"].startswith("apscheduler") and r["level"] == "INFO" for r in records)
    ids = {job_id for job_id, _work, _interval in job_table(rt)}
    named = [m.group(1) for r in records if (m := re.match(r"job (\S+?):? ", r["msg"]))]
    assert named and set(named) <= ids, named
    assert not any("<locals>" in r["msg"] for r in records)


def test_the_scheduler_names_each_job_by_its_id(rt: Runtime) -> None:
    scheduler = BackgroundScheduler(timezone="UTC")
    register_jobs(scheduler, rt)
    jobs = scheduler.get_jobs()
    assert sorted(job.id for job in jobs) == sorted(job_id for job_id, _, _ in job_table(rt))
    for job in jobs:
        # APScheduler's own lines (a skipped or failed run) name the job: its id, not
        # "_job.<locals>.run".
        assert job.name == job.id
        assert job.func.__qualname__ == job.id
