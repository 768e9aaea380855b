"""A Python client generated from /openapi.json (openapi-python-client) drives a PHQ-9 check-in.

The generator runs offline in a subprocess; the client talks to the app over real HTTP. If an
operationId, a schema or an enum were unusable, the generated names below would not exist or
the answer would not parse.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from api.app import create_app
from services.runtime import Runtime
from tests.support.world import World

CLIENT_PACKAGE = "tandem_client"
# No formatter hooks: the test needs the code, not its looks (and no ruff on PATH).
CONFIG = "post_hooks: []\n"


@pytest.fixture
def served(rt: Runtime, world: World) -> Iterator[str]:
    server: BaseWSGIServer = make_server("127.0.0.1", 0, create_app(rt=rt), threaded=True)
    serving = threading.Thread(target=server.serve_forever, name="client-http", daemon=True)
    serving.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def generated(tmp_path: Path, served: str) -> Iterator[Any]:
    with urlopen(f"{served}/openapi.json", timeout=10) as response:  # noqa: S310 (local)
        (tmp_path / "openapi.json").write_bytes(response.read())
    (tmp_path / "config.yml").write_text(CONFIG)
    generator = Path(sys.executable).with_name("openapi-python-client")
    command = [str(generator) if generator.exists() else shutil.which("openapi-python-client")]
    subprocess.run(
        [
            *command,
            "generate",
            "--path",
            str(tmp_path / "openapi.json"),
            "--config",
            str(tmp_path / "config.yml"),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / CLIENT_PACKAGE),
            "--fail-on-warning",
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=180,
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(CLIENT_PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.split(".")[0] == CLIENT_PACKAGE]:
            del sys.modules[name]


def test_a_generated_client_submits_a_phq9_and_reads_it_back(generated: Any, served: str) -> None:
    login = importlib.import_module(f"{CLIENT_PACKAGE}.api.auth.login")
    submit = importlib.import_module(f"{CLIENT_PACKAGE}.api.checkins.submit_phq_9_checkin")
    history = importlib.import_module(f"{CLIENT_PACKAGE}.api.me.list_my_checkins")
    models = importlib.import_module(f"{CLIENT_PACKAGE}.models")

    tokens = login.sync(
        client=generated.Client(base_url=served),
        body=models.LoginIn(username=World.pa_phone, password=World.PASSWORD),
    )
    assert isinstance(tokens, models.TokensOut), tokens
    assert tokens.role == models.TokensOutRole.PATIENT
    patient = generated.AuthenticatedClient(base_url=served, token=tokens.access_token)

    body = models.Phq9In(answers=[1, 1, 1, 1, 1, 1, 1, 1, 2], difficulty=1)
    answered = submit.sync_detailed(client=patient, body=body, idempotency_key="phone-1")
    assert answered.status_code == 201, answered.content
    result = answered.parsed
    assert isinstance(result, models.Phq9Out)
    assert (result.total, result.prorated, result.item9) == (10, False, 2)
    assert result.severity == models.Phq9OutSeverity.MODERATE
    assert "suicidality" in [str(flag) for flag in result.flags]
    assert result.escalation.kind == "suicidality" and result.escalation.priority == "urgent"
    # Item 9 = 2: the crisis resources arrive typed, 988 first.
    crisis = result.crisis_resources.to_dict()
    assert crisis["message"] and crisis["resources"][0]["call"] == "988"

    # A retry with the same key (the phone lost the answer) is the same check-in.
    again = submit.sync_detailed(client=patient, body=body, idempotency_key="phone-1")
    assert again.status_code == 201 and again.parsed.id == result.id

    page = history.sync(client=patient)
    assert isinstance(page, models.CheckinPage)
    assert [item.id for item in page.items] == [result.id]
    assert page.items[0].severity == models.CheckinItemSeverity.MODERATE

    # Another patient's problem document parses as the Problem schema too.
    refused = submit.sync_detailed(
        client=generated.AuthenticatedClient(base_url=served, token="x"), body=body
    )
    assert refused.status_code == 401 and isinstance(refused.parsed, models.Problem)
