"""FHIR R4 reads: metadata, Questionnaires, Patient, QuestionnaireResponse, Observation."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from services.runtime import Runtime
from store.models import AuditEvent
from tests.support.fhir import BASE, History, fhir_json

LOINC = "http://loinc.org"


def _entries(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    return [e["resource"] for e in bundle.get("entry", [])]


def test_metadata_is_a_capability_statement(client: FlaskClient) -> None:
    body = fhir_json(client.get(f"{BASE}/metadata"))
    assert body["resourceType"] == "CapabilityStatement"
    assert body["fhirVersion"] == "4.0.1"
    types = {r["type"] for r in body["rest"][0]["resource"]}
    assert {"Patient", "Questionnaire", "QuestionnaireResponse", "Observation"} <= types


def test_phq9_questionnaire_uses_loinc_items_and_answers(
    client: FlaskClient, history: History
) -> None:
    q = fhir_json(client.get(f"{BASE}/Questionnaire/phq-9", headers=history.cx))
    assert q["code"][0]["code"] == "44249-1"
    items = q["item"][0]["item"]
    assert [i["linkId"] for i in items] == [
        "44250-9",
        "44255-8",
        "44259-0",
        "44254-1",
        "44251-7",
        "44258-2",
        "44252-5",
        "44253-3",
        "44260-8",
        "69722-7",
        "44261-6",
    ]
    assert [o["valueCoding"]["code"] for o in items[0]["answerOption"]] == [
        "LA6568-5",
        "LA6569-3",
        "LA6570-1",
        "LA6571-9",
    ]
    assert [o["valueCoding"]["code"] for o in items[9]["answerOption"]] == [
        "LA6572-7",
        "LA6573-5",
        "LA6575-0",
        "LA6574-3",
    ]
    asrm = fhir_json(client.get(f"{BASE}/Questionnaire/asrm", headers=history.cx))
    assert len(asrm["item"]) == 6
    both = fhir_json(client.get(f"{BASE}/Questionnaire", headers=history.cx))
    assert {r["id"] for r in _entries(both)} == {"phq-9", "asrm"}
    fhir_json(client.get(f"{BASE}/Questionnaire/madrs", headers=history.cx), 404)


def test_patient_read_is_scoped_and_audited(
    client: FlaskClient, rt: Runtime, history: History
) -> None:
    w = history.world
    body = fhir_json(client.get(f"{BASE}/Patient/{w.patient_a}", headers=history.cx))
    assert body["id"] == str(w.patient_a)
    assert body["name"] == [{"text": "patient_a"}]
    # Another clinic's patient is 404, as in the API; so is a made-up id.
    foreign = fhir_json(client.get(f"{BASE}/Patient/{w.patient_c_y}", headers=history.cx), 404)
    assert foreign["issue"][0]["code"] == "not-found"
    fhir_json(client.get(f"{BASE}/Patient/abc", headers=history.cx), 404)
    with rt.database.session() as s:
        actions = s.scalars(
            select(AuditEvent.action).where(
                AuditEvent.actor_id == w.clinician_x1, AuditEvent.target_id == str(w.patient_a)
            )
        ).all()
    assert "fhir.read" in actions
    listed = fhir_json(client.get(f"{BASE}/Patient", headers=history.cx))
    assert {r["id"] for r in _entries(listed)} == {str(w.patient_a), str(w.patient_b)}


def test_questionnaire_responses_carry_loinc_answers(client: FlaskClient, history: History) -> None:
    w = history.world
    bundle = fhir_json(
        client.get(f"{BASE}/QuestionnaireResponse?patient={w.patient_a}", headers=history.cx)
    )
    found = _entries(bundle)
    phq = [r for r in found if r["id"].startswith("phq9-")]
    asrm = [r for r in found if r["id"].startswith("asrm-")]
    assert len(phq) == 3 and len(asrm) == 1
    first = phq[0]
    assert first["subject"] == {"reference": f"Patient/{w.patient_a}"}
    items = first["item"][0]["item"]
    assert items[0]["linkId"] == "44250-9"
    assert items[0]["answer"][0]["valueCoding"]["system"] == LOINC
    assert items[0]["answer"][0]["valueCoding"]["code"] == "LA6571-9"  # 3
    assert items[-1] == {"linkId": "44261-6", "answer": [{"valueInteger": 18}]}
    only_asrm = fhir_json(
        client.get(
            f"{BASE}/QuestionnaireResponse?patient=Patient/{w.patient_a}"
            "&questionnaire=https://tandem.example/fhir/Questionnaire/asrm",
            headers=history.cx,
        )
    )
    assert [r["id"] for r in _entries(only_asrm)] == [asrm[0]["id"]]
    one = fhir_json(client.get(f"{BASE}/QuestionnaireResponse/{first['id']}", headers=history.cx))
    assert one["id"] == first["id"]


def test_observations_phq9_totals_bp_and_heart_rate(client: FlaskClient, history: History) -> None:
    w = history.world
    totals = _entries(
        fhir_json(
            client.get(
                f"{BASE}/Observation?patient={w.patient_a}&code={LOINC}|44261-6",
                headers=history.cx,
            )
        )
    )
    assert [o["valueInteger"] for o in totals] == [18, 12, 7]
    assert totals[0]["derivedFrom"] == [
        {"reference": f"QuestionnaireResponse/phq9-{history.checkins[0]}"}
    ]
    bp = _entries(
        fhir_json(
            client.get(f"{BASE}/Observation?patient={w.patient_a}&code=85354-9", headers=history.cx)
        )
    )
    assert len(bp) == 9
    assert [c["code"]["coding"][0]["code"] for c in bp[0]["component"]] == ["8480-6", "8462-4"]
    assert bp[0]["component"][0]["valueQuantity"]["code"] == "mm[Hg]"
    hr = _entries(
        fhir_json(
            client.get(f"{BASE}/Observation?patient={w.patient_a}&code=8867-4", headers=history.cx)
        )
    )
    assert len(hr) == 6 and hr[0]["valueQuantity"]["code"] == "/min"
    every = _entries(
        fhir_json(client.get(f"{BASE}/Observation?patient={w.patient_a}", headers=history.cx))
    )
    assert len(every) == 3 + 9 + 6
    one = fhir_json(client.get(f"{BASE}/Observation/{bp[0]['id']}", headers=history.cx))
    assert one["id"] == bp[0]["id"]
    fhir_json(client.get(f"{BASE}/Observation/bp-999999", headers=history.cx), 404)


def test_date_search_ge_le(client: FlaskClient, rt: Runtime, history: History) -> None:
    w = history.world
    every = _entries(
        fhir_json(
            client.get(f"{BASE}/Observation?patient={w.patient_a}&code=44261-6", headers=history.cx)
        )
    )
    middle = every[1]["effectiveDateTime"][:10]
    same_day = _entries(
        fhir_json(
            client.get(
                f"{BASE}/Observation?patient={w.patient_a}&code=44261-6"
                f"&date=ge{middle}&date=le{middle}",
                headers=history.cx,
            )
        )
    )
    assert [o["id"] for o in same_day] == [every[1]["id"]]
    later = _entries(
        fhir_json(
            client.get(
                f"{BASE}/Observation?patient={w.patient_a}&code=44261-6&date=ge{middle}",
                headers=history.cx,
            )
        )
    )
    assert [o["id"] for o in later] == [o["id"] for o in every[1:]]


def test_paging_links_walk_every_result_once(client: FlaskClient, history: History) -> None:
    w = history.world
    url: str | None = f"{BASE}/Observation?patient={w.patient_a}&_count=4"
    seen: list[str] = []
    pages = 0
    while url:
        bundle = fhir_json(client.get(url, headers=history.cx))
        seen.extend(r["id"] for r in _entries(bundle))
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        assert "self" in links
        url = links.get("next")
        pages += 1
        assert pages < 10
    assert len(seen) == len(set(seen)) == 18
    assert pages >= 5


def test_everything_returns_the_patients_record(client: FlaskClient, history: History) -> None:
    w = history.world
    bundle = fhir_json(client.get(f"{BASE}/Patient/{w.patient_a}/$everything", headers=history.cx))
    kinds = [r["resourceType"] for r in _entries(bundle)]
    assert kinds.count("Patient") == 1
    assert kinds.count("QuestionnaireResponse") == 4
    assert kinds.count("Observation") == 3 + 9 + 6
    fhir_json(client.get(f"{BASE}/Patient/{w.patient_c_y}/$everything", headers=history.cx), 404)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/Medication?patient=1", 400),
        ("/Observation?patient=A&subject=1", 400),
        ("/Observation?colour=blue", 400),
        ("/Observation?date=ge2026-13-45", 400),
        ("/Observation?date=yesterday", 400),
        ("/Observation?date=ge2026-11-01T10:00", 400),
        ("/Observation?code=http://loinc.org|not-a-code", 400),
        ("/Observation?code=a|b|c", 400),
        ("/Observation?code=", 400),
        ("/Observation?patient=Patient/x", 400),
        ("/Observation?_count=0", 400),
        ("/Observation?_count=100000", 400),
        ("/Observation?_cursor=bogus", 400),
        ("/Observation?_format=xml", 400),
        ("/QuestionnaireResponse?authored=lt2026", 200),
        ("/QuestionnaireResponse?authored=xx2026-01-01", 400),
        ("/Patient?name=Smith", 400),
    ],
)
def test_bad_input_is_an_operation_outcome(
    client: FlaskClient, history: History, path: str, status: int
) -> None:
    body = fhir_json(client.get(BASE + path, headers=history.cx), status)
    if status == 400:
        assert body["resourceType"] == "OperationOutcome"
        assert body["issue"][0]["severity"] == "error"


def test_search_for_another_clinics_patient_is_404(client: FlaskClient, history: History) -> None:
    w = history.world
    for path in (
        f"/Observation?patient={w.patient_c_y}",
        f"/QuestionnaireResponse?patient={w.patient_c_y}",
        f"/Observation?patient={w.patient_c_y}&code=http://snomed.info/sct|1",
    ):
        fhir_json(client.get(BASE + path, headers=history.cx), 404)
    # Clinic Y's clinician sees only clinic Y's records in a search without a patient.
    theirs = _entries(fhir_json(client.get(f"{BASE}/Observation", headers=history.cy)))
    assert theirs and {o["subject"]["reference"] for o in theirs} == {f"Patient/{w.patient_c_y}"}


def test_a_patients_token_is_403_and_no_token_401(client: FlaskClient, history: History) -> None:
    w = history.world
    for path in (f"/Patient/{w.patient_a}", f"/Observation?patient={w.patient_a}", "/$export"):
        forbidden = fhir_json(client.get(BASE + path, headers=history.pa), 403)
        assert forbidden["issue"][0]["code"] == "forbidden"
        fhir_json(client.get(BASE + path), 401)
        fhir_json(client.get(BASE + path, headers=history.admin), 403)
