"""Bad submissions: a 4xx problem document naming the field, and nothing stored."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from clinical.symptoms import SYMPTOMS
from services.runtime import Runtime
from store.clock import FrozenClock
from tests.support.selfreport import (
    PHQ9_URL,
    REPORT_URL,
    add_session,
    add_task,
    counts,
    report_body,
    task_status,
)
from tests.support.suite import Auth
from tests.support.world import World

# Item 9 = 0: a refusal that carried a readable suicidality answer records it on an
# escalation by design (tests/boundary/test_refused_safety_signal.py), so it is not "nothing".
OK = [1, 1, 1, 1, 1, 1, 1, 1, 0]


@pytest.fixture
def unchanged(rt: Runtime, world: World, patient_headers: dict[str, str]) -> Iterator[None]:
    """Every test here must leave the stored data exactly as it found it."""
    before = counts(rt)
    yield
    assert counts(rt) == before


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    return body


def _with(index: int, value: Any) -> list[Any]:
    answers: list[Any] = list(OK)
    answers[index] = value
    return answers


PHQ9_CASES: list[tuple[str, Any, str]] = [
    ("eight answers", {"answers": OK[:8]}, "answers"),
    ("ten answers", {"answers": [*OK, 1]}, "answers"),
    ("no answers", {"answers": []}, "answers"),
    ("four", {"answers": _with(3, 4)}, "answers.3"),
    ("minus one", {"answers": _with(3, -1)}, "answers.3"),
    ("two and a half", {"answers": _with(3, 2.5)}, "answers.3"),
    ("string two", {"answers": _with(3, "2")}, "answers.3"),
    ("true", {"answers": _with(3, True)}, "answers.3"),
    ("false on item 9", {"answers": _with(8, False)}, "answers.8"),
    ("object", {"answers": _with(0, {"v": 1})}, "answers.0"),
    ("three skipped", {"answers": [None, None, None, 1, 1, 1, 1, 1, 0]}, "answers"),
    ("all skipped", {"answers": [None] * 9}, "answers"),
    ("answers missing", {}, "answers"),
    ("answers null", {"answers": None}, "answers"),
    ("answers a string", {"answers": "111111111"}, "answers"),
    ("answers an object", {"answers": {"0": 1}}, "answers"),
    ("unknown field", {"answers": OK, "mood": "fine"}, "mood"),
    ("difficulty 4", {"answers": OK, "difficulty": 4}, "difficulty"),
    ("difficulty string", {"answers": OK, "difficulty": "1"}, "difficulty"),
    ("asrm of four", {"answers": OK, "asrm": [1, 1, 1, 1]}, "asrm"),
    ("asrm item 5", {"answers": OK, "asrm": [1, 1, 5, 1, 1]}, "asrm.2"),
    ("asrm item true", {"answers": OK, "asrm": [1, 1, True, 1, 1]}, "asrm.2"),
    ("session id zero", {"answers": OK, "session_id": 0}, "session_id"),
    ("session id huge", {"answers": OK, "session_id": 10**30}, "session_id"),
    ("task id string", {"answers": OK, "task_id": "7"}, "task_id"),
    ("answered_at naive", {"answers": OK, "answered_at": "2026-11-02T10:00:00"}, "answered_at"),
    ("answered_at junk", {"answers": OK, "answered_at": "yesterday"}, "answered_at"),
    ("answered_at number", {"answers": OK, "answered_at": 1790000000}, "answered_at"),
]


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("body", "path"), [(b, p) for _, b, p in PHQ9_CASES], ids=[name for name, _, _ in PHQ9_CASES]
)
def test_phq9_invalid_fields(
    client: FlaskClient, patient_headers: dict[str, str], body: dict[str, Any], path: str
) -> None:
    problem = _problem(client.post(PHQ9_URL, json=body, headers=patient_headers), 422)
    assert path in problem["errors"], problem


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("delta", "ok"),
    [
        (timedelta(days=7), False),  # next week
        (timedelta(minutes=6), False),  # beyond the allowed clock skew
        (timedelta(days=-30), False),  # last month
        (timedelta(days=-7, seconds=-1), False),
    ],
)
def test_phq9_answered_at_out_of_window(
    client: FlaskClient,
    patient_headers: dict[str, str],
    clock: FrozenClock,
    delta: timedelta,
    ok: bool,
) -> None:
    when = (clock.now() + delta).isoformat()
    response = client.post(
        PHQ9_URL, json={"answers": OK, "answered_at": when}, headers=patient_headers
    )
    assert "answered_at" in _problem(response, 422)["errors"]


@pytest.mark.usefixtures("unchanged")
def test_every_problem_is_reported_at_once(
    client: FlaskClient, patient_headers: dict[str, str], clock: FrozenClock
) -> None:
    body = {
        "answers": _with(2, 4),
        "asrm": [9, 0, 0, 0, 0],
        "answered_at": (clock.now() + timedelta(days=7)).isoformat(),
    }
    errors = _problem(client.post(PHQ9_URL, json=body, headers=patient_headers), 422)["errors"]
    assert {"answers.2", "asrm.0", "answered_at"} <= set(errors)


REPORT_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("notes too long", {"notes": "x" * 2001}, "notes"),
    ("notes a number", {"notes": 5}, "notes"),
    ("symptom 4", {"symptoms": {**dict.fromkeys(SYMPTOMS, 0), "nausea": 4}}, "symptoms.nausea"),
    (
        "symptom string",
        {"symptoms": {**dict.fromkeys(SYMPTOMS, 0), "nausea": "1"}},
        "symptoms.nausea",
    ),
    (
        "symptom missing",
        {"symptoms": {k: 0 for k in SYMPTOMS if k != "headache"}},
        "symptoms.headache",
    ),
    ("unknown symptom", {"symptoms": {**dict.fromkeys(SYMPTOMS, 0), "itch": 1}}, "symptoms.itch"),
    ("asrm of six", {"asrm": [0, 0, 0, 0, 0, 0]}, "asrm"),
    ("asrm -1", {"asrm": [0, -1, 0, 0, 0]}, "asrm.1"),
    ("asrm skipped", {"asrm": [0, None, 0, 0, 0]}, "asrm.1"),
    ("suicidal thoughts 4", {"suicidal_thoughts": 4}, "suicidal_thoughts"),
    ("suicidal thoughts true", {"suicidal_thoughts": True}, "suicidal_thoughts"),
    ("suicidal thoughts null", {"suicidal_thoughts": None}, "suicidal_thoughts"),
    ("seizure 1", {"seizure": 1}, "seizure"),
    ("fainted 'no'", {"fainted": "no"}, "fainted"),
    ("unknown field", {"mood": 3}, "mood"),
    ("answered_at last month", {"answered_at": "2026-10-01T12:00:00+00:00"}, "answered_at"),
    ("answered_at next week", {"answered_at": "2026-11-09T12:00:00+00:00"}, "answered_at"),
]


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("overrides", "path"),
    [(o, p) for _, o, p in REPORT_CASES],
    ids=[name for name, _, _ in REPORT_CASES],
)
def test_report_invalid_fields(
    client: FlaskClient, patient_headers: dict[str, str], overrides: dict[str, Any], path: str
) -> None:
    response = client.post(REPORT_URL, json=report_body(**overrides), headers=patient_headers)
    assert path in _problem(response, 422)["errors"]


@pytest.mark.usefixtures("unchanged")
def test_notes_with_nul_are_refused(client: FlaskClient, patient_headers: dict[str, str]) -> None:
    # PostgreSQL text cannot hold NUL: refused before any INSERT (by the app-wide guard or
    # the notes field), never a 500.
    response = client.post(REPORT_URL, json=report_body(notes="a\x00b"), headers=patient_headers)
    errors = _problem(response, 422)["errors"]
    assert "notes" in errors or "body" in errors


@pytest.mark.usefixtures("unchanged")
def test_report_missing_fields(client: FlaskClient, patient_headers: dict[str, str]) -> None:
    errors = _problem(client.post(REPORT_URL, json={}, headers=patient_headers), 422)["errors"]
    assert {"symptoms", "asrm", "suicidal_thoughts", "seizure", "fainted"} <= set(errors)


def test_notes_of_exactly_2000_are_fine(
    client: FlaskClient, patient_headers: dict[str, str]
) -> None:
    response = client.post(REPORT_URL, json=report_body(notes="x" * 2000), headers=patient_headers)
    assert response.status_code == 201


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("url", [PHQ9_URL, REPORT_URL])
@pytest.mark.parametrize("field", ["session_id", "task_id"])
def test_another_patients_session_or_task_is_not_found(
    client: FlaskClient,
    patient_headers: dict[str, str],
    rt: Runtime,
    world: World,
    url: str,
    field: str,
) -> None:
    kind = "phq9" if url == PHQ9_URL else "symptom_report"
    other = (
        add_session(rt, world, world.patient_b)
        if field == "session_id"
        else add_task(rt, world.patient_b, kind)
    )
    before = counts(rt)
    body = {"answers": OK} if url == PHQ9_URL else report_body()
    response = client.post(url, json={**body, field: other}, headers=patient_headers)
    _problem(response, 404)
    assert counts(rt) == before
    if field == "task_id":
        assert task_status(rt, other) == "open"


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("field", ["session_id", "task_id"])
def test_unknown_session_or_task_is_not_found(
    client: FlaskClient, patient_headers: dict[str, str], field: str
) -> None:
    response = client.post(PHQ9_URL, json={"answers": OK, field: 987654}, headers=patient_headers)
    _problem(response, 404)


@pytest.mark.usefixtures("unchanged")
def test_task_is_not_closed_by_a_refused_submission(
    client: FlaskClient, patient_headers: dict[str, str], rt: Runtime, world: World
) -> None:
    task_id = add_task(rt, world.patient_a, "phq9")
    response = client.post(
        PHQ9_URL,
        json={"answers": OK, "task_id": task_id, "session_id": 424242},
        headers=patient_headers,
    )
    _problem(response, 404)
    assert task_status(rt, task_id) == "open"


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("url", [PHQ9_URL, REPORT_URL])
@pytest.mark.parametrize("username", [World.cx1, World.cy1, World.admin])
def test_staff_may_not_submit(client: FlaskClient, auth: Auth, url: str, username: str) -> None:
    body = {"answers": OK} if url == PHQ9_URL else report_body()
    _problem(client.post(url, json=body, headers=auth.headers(username)), 403)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("url", [PHQ9_URL, REPORT_URL])
def test_no_token(client: FlaskClient, url: str) -> None:
    _problem(client.post(url, json={"answers": OK}), 401)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("url", [PHQ9_URL, REPORT_URL])
@pytest.mark.parametrize("body", [[1, 2, 3], "answers", 5, None, True])
def test_body_that_is_not_an_object(
    client: FlaskClient, patient_headers: dict[str, str], url: str, body: Any
) -> None:
    response = client.post(
        url, data=json.dumps(body), headers=patient_headers, content_type="application/json"
    )
    assert "body" in _problem(response, 422)["errors"]


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("url", [PHQ9_URL, REPORT_URL])
@pytest.mark.parametrize(
    "raw", [b"{", b'{"answers": [1,1,1,1,1,1,1,1,1]', b"\xff\xfe", b"", b"{'answers': []}"]
)
def test_malformed_json(
    client: FlaskClient, patient_headers: dict[str, str], url: str, raw: bytes
) -> None:
    response = client.post(url, data=raw, headers=patient_headers, content_type="application/json")
    assert response.status_code in (400, 422)
    _problem(response, response.status_code)
    if raw:
        assert response.status_code == 400


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("url", [PHQ9_URL, REPORT_URL])
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_wrong_content_type(
    client: FlaskClient, patient_headers: dict[str, str], url: str, content_type: str
) -> None:
    response = client.post(
        url,
        data=b'{"answers": [1,1,1,1,1,1,1,1,0]}',
        headers=patient_headers,
        content_type=content_type,
    )
    _problem(response, 415)


@pytest.mark.usefixtures("unchanged")
def test_body_too_large(client: FlaskClient, patient_headers: dict[str, str], rt: Runtime) -> None:
    notes = "x" * (rt.settings.max_body_bytes + 10)
    response = client.post(REPORT_URL, json=report_body(notes=notes), headers=patient_headers)
    _problem(response, 413)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_other_methods(client: FlaskClient, patient_headers: dict[str, str], method: str) -> None:
    response = getattr(client, method)(PHQ9_URL, headers=patient_headers)
    _problem(response, 405)


def test_a_refusal_does_not_disturb_the_next_submission(
    submit_phq9: Callable[..., Any], client: FlaskClient, patient_headers: dict[str, str]
) -> None:
    client.post(PHQ9_URL, json={"answers": _with(0, 9)}, headers=patient_headers)
    assert submit_phq9(OK).get_json()["total"] == 8
