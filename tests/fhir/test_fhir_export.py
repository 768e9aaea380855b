"""Bulk Data $export: async kick-off, status polling, NDJSON files, owner-only status URLs."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient

from services import selfreport
from services.runtime import Runtime
from store.clock import FrozenClock
from store.models import User
from tests.support.fhir import BASE, History, fhir_json, valid
from tests.support.suite import Auth
from tests.support.world import World

ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}


def _kickoff(client: FlaskClient, headers: dict[str, str], query: str = "") -> str:
    response = client.get(f"{BASE}/$export{query}", headers={**headers, **ASYNC})
    assert response.status_code == 202, response.get_data(as_text=True)
    location = response.headers["Content-Location"]
    assert "/fhir/R4/$export-status/" in location
    return location.split("localhost", 1)[1]


def _manifest(client: FlaskClient, headers: dict[str, str], status_url: str) -> dict[str, Any]:
    response = client.get(status_url, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


def _ndjson(client: FlaskClient, headers: dict[str, str], url: str) -> list[dict[str, Any]]:
    response = client.get(url.split("localhost", 1)[1], headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+ndjson"
    lines = [line for line in response.get_data(as_text=True).split("\n") if line]
    return [valid(json.loads(line)) for line in lines]


def test_export_kickoff_status_and_files(
    client: FlaskClient, rt: Runtime, clock: FrozenClock, history: History
) -> None:
    status_url = _kickoff(client, history.cx)
    # Recorded after the kick-off: not in this export's snapshot.
    clock.advance(timedelta(minutes=5))
    with rt.database.unit_of_work() as s:
        patient = s.get(User, history.world.patient_a)
        assert patient is not None
        selfreport.submit_phq9(s, patient=patient, answers=[0] * 9, now=clock.now())
    manifest = _manifest(client, history.cx, status_url)
    assert manifest["requiresAccessToken"] is True
    assert manifest["error"] == []
    files = {o["type"]: o["url"] for o in manifest["output"]}
    assert set(files) == {"Patient", "QuestionnaireResponse", "Observation"}
    patients = _ndjson(client, history.cx, files["Patient"])
    assert sorted(p["id"] for p in patients) == sorted(
        [str(history.world.patient_a), str(history.world.patient_b)]
    )
    responses = _ndjson(client, history.cx, files["QuestionnaireResponse"])
    assert len(responses) == 4
    observations = _ndjson(client, history.cx, files["Observation"])
    assert len(observations) == 3 + 9 + 6
    # Nothing of clinic Y's.
    assert all(
        o["subject"]["reference"] != f"Patient/{history.world.patient_c_y}" for o in observations
    )


def test_export_type_filter_and_bad_parameters(client: FlaskClient, history: History) -> None:
    status_url = _kickoff(client, history.cx, "?_type=Patient")
    assert [o["type"] for o in _manifest(client, history.cx, status_url)["output"]] == ["Patient"]
    for query, headers in (
        ("", {}),  # no Prefer: respond-async
        ("?_type=Medication", ASYNC),
        ("?_since=yesterday", ASYNC),
        ("?_outputFormat=text/csv", ASYNC),
        ("?_elements=id", ASYNC),
    ):
        fhir_json(client.get(f"{BASE}/$export{query}", headers={**history.cx, **headers}), 400)


def test_status_url_of_another_user_is_404(
    client: FlaskClient, auth: Auth, history: History
) -> None:
    status_url = _kickoff(client, history.cx)
    colleague = auth.headers(World.cx2)
    fhir_json(client.get(status_url, headers=colleague), 404)
    fhir_json(client.get(status_url, headers=history.cy), 404)
    file_url = _manifest(client, history.cx, status_url)["output"][0]["url"].split("localhost")[1]
    fhir_json(client.get(file_url, headers=colleague), 404)
    fhir_json(client.get(f"{BASE}/$export-status/{'0' * 32}", headers=history.cx), 404)


def test_delete_cancels_and_jobs_expire(
    client: FlaskClient, clock: FrozenClock, history: History
) -> None:
    first = _kickoff(client, history.cx)
    assert client.delete(first, headers=history.cx).status_code == 202
    fhir_json(client.get(first, headers=history.cx), 404)
    second = _kickoff(client, history.cx)
    clock.advance(timedelta(hours=25))
    fhir_json(client.get(second, headers=history.cx), 404)
