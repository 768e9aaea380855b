"""Crisis resources reach the patient even when the submission itself is refused or fails."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from services.runtime import Runtime
from tests.support.selfreport import PHQ9_URL, REPORT_URL, answers_for, report_body


def _crisis(response: Any) -> Any:
    return response.get_json().get("crisis_resources")


@pytest.mark.parametrize("item9", [1, 2, 3])
def test_invalid_phq9_with_item9_still_carries_crisis_resources(
    client: FlaskClient, patient_headers: dict[str, str], item9: int
) -> None:
    body = {"answers": answers_for(10, item9=item9), "unexpected": True}
    response = client.post(PHQ9_URL, json=body, headers=patient_headers)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "988" in str(_crisis(response))


def test_invalid_phq9_without_item9_has_no_crisis_resources(
    client: FlaskClient, patient_headers: dict[str, str]
) -> None:
    body = {"answers": answers_for(10, item9=0), "unexpected": True}
    response = client.post(PHQ9_URL, json=body, headers=patient_headers)
    assert response.status_code == 422
    assert _crisis(response) is None


def test_expired_session_still_carries_crisis_resources(client: FlaskClient) -> None:
    response = client.post(
        REPORT_URL, json=report_body(suicidal_thoughts=2), headers={"Authorization": "Bearer x"}
    )
    assert response.status_code == 401
    assert "988" in str(_crisis(response))


def test_database_failure_still_carries_crisis_resources(
    client: FlaskClient, patient_headers: dict[str, str], rt: Runtime
) -> None:
    # A real failure of the store: the table the check-in goes to is gone.
    with rt.database.engine.begin() as conn:
        conn.execute(
            text(
                "DROP TABLE phq9_checkins CASCADE"
                if rt.database.dialect == "postgresql"
                else "DROP TABLE phq9_checkins"
            )
        )
    try:
        response = client.post(
            PHQ9_URL, json={"answers": answers_for(12, item9=2)}, headers=patient_headers
        )
        assert response.status_code == 500
        assert response.mimetype == "application/problem+json"
        assert "988" in str(_crisis(response))
        assert "Traceback" not in response.get_data(as_text=True)
    finally:
        if rt.database.dialect == "postgresql":
            from store.models import Base

            Base.metadata.tables["phq9_checkins"].create(rt.database.engine)


def test_wrong_content_type_still_carries_crisis_resources(
    client: FlaskClient, patient_headers: dict[str, str]
) -> None:
    import json

    response = client.post(
        REPORT_URL,
        data=json.dumps(report_body(suicidal_thoughts=3)),
        headers={**patient_headers, "Content-Type": "text/plain"},
    )
    assert response.status_code == 415
    assert "988" in str(_crisis(response))


def test_nul_in_notes_still_carries_crisis_resources(
    client: FlaskClient, patient_headers: dict[str, str]
) -> None:
    body = report_body(suicidal_thoughts=2, notes="help\u0000")
    response = client.post(REPORT_URL, json=body, headers=patient_headers)
    assert response.status_code == 422
    assert "988" in str(_crisis(response))
