"""GET /api/v1/clinics/{id}/outcomes on `tandem demo`'s cohort, checked by hand from raw rows."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, select

from clinical.calendar import add_months
from services import clinics, demo
from services.runtime import Runtime
from store.models import Clinic, PatientProfile, User
from store.reports import Phq9Checkin
from store.schedule import TreatmentSession


@dataclass
class Demo:
    clinic_id: int
    clinician: dict[str, str]
    patient: dict[str, str]


def _login(client: FlaskClient, username: str, password: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


@pytest.fixture
def seeded(rt: Runtime, client: FlaskClient) -> Demo:
    lines = list(demo.seed(rt))
    logins = re.findall(
        r"^\s+(clinician \(tier 1\)|patient)\s+(\S+)\s+(\S+)$", "\n".join(lines), re.M
    )
    creds = {role: (user, password) for role, user, password in logins}
    with rt.database.session() as s:
        clinic_id = s.scalars(select(Clinic.id).where(Clinic.name == demo.DEMO_CLINIC)).one()
    return Demo(
        clinic_id=clinic_id,
        clinician=_login(client, *creds["clinician (tier 1)"]),
        patient=_login(client, *creds["patient"]),
    )


def _by_hand(rt: Runtime, clinic_id: int, now: datetime) -> dict[str, Any]:
    """The report's headline figures, recomputed from the raw check-ins and sessions."""
    with rt.database.session() as s:
        profiles = s.scalars(
            select(PatientProfile).where(PatientProfile.clinic_id == clinic_id)
        ).all()
        checkins: dict[int, list[tuple[datetime, int]]] = {}
        for pid, at, total in s.execute(
            select(Phq9Checkin.patient_id, Phq9Checkin.answered_at, Phq9Checkin.total)
        ):
            checkins.setdefault(pid, []).append((at, total))
        sessions: dict[int, list[datetime]] = {}
        for pid, at in s.execute(select(TreatmentSession.patient_id, TreatmentSession.started_at)):
            sessions.setdefault(pid, []).append(at)
        people = [
            (p.user_id, p.baseline_instrument, p.baseline_score, p.acute_target_sessions, p.phase)
            for p in profiles
        ]
    out: dict[str, Any] = {
        "patients": 0,
        "completed": 0,
        "no_baseline": 0,
        "below_10": 0,
        "response": 0,
        "remission": 0,
        "n": 0,
        "reductions": [],
        "sustained": {m: [0, 0] for m in (1, 3, 6, 12, 24)},
    }
    for pid, instrument, score, target, phase in people:
        out["patients"] += 1
        cs = sorted(checkins.get(pid, []))
        ss = sorted(sessions.get(pid, []))
        pre = [t for at, t in cs if not ss or at < ss[0]]
        baseline = pre[-1] if pre else (score if instrument == "PHQ-9" else None)
        end = None
        if len(ss) >= target:
            end = ss[target - 1]
        elif ss and phase != "acute":
            end = ss[-1]
        if end is not None:
            out["completed"] += 1
        if baseline is None:
            out["no_baseline"] += 1
            continue
        if baseline < 10:
            out["below_10"] += 1
            continue
        after = [t for at, t in cs if end is not None and end < at <= end + timedelta(days=14)]
        if not after:
            continue
        completion = after[0]
        out["n"] += 1
        out["response"] += completion * 2 <= baseline
        out["remission"] += completion < 5
        out["reductions"].append(100 * (baseline - completion) / baseline)
        assert end is not None
        still, known = completion < 5, True
        for m in (1, 3, 6, 12, 24):
            when = add_months(end, m)
            found = [
                t for at, t in cs if when - timedelta(days=14) < at <= when + timedelta(days=30)
            ]
            if not found and now < when + timedelta(days=30):
                break
            if found and found[0] >= 5:
                still = False
            if not found and still:
                known = False
            if not still or known:
                out["sustained"][m][0] += still
                out["sustained"][m][1] += 1
    return out


def test_report_matches_a_hand_calculation(client: FlaskClient, rt: Runtime, seeded: Demo) -> None:
    response = client.get(f"/api/v1/clinics/{seeded.clinic_id}/outcomes", headers=seeded.clinician)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    hand = _by_hand(rt, seeded.clinic_id, rt.clock.now())

    assert body["patients"] == hand["patients"] == 62
    assert body["completed_acute"] == hand["completed"]
    assert body["not_evaluable"]["no_phq9_baseline"] == hand["no_baseline"] > 0
    assert body["not_evaluable"]["baseline_below_10"] == hand["below_10"] > 0
    assert body["response"]["n"] == body["remission"]["n"] == hand["n"]
    assert body["response"]["count"] == hand["response"]
    assert body["remission"]["count"] == hand["remission"]
    assert body["response"]["rate"] == round(100 * hand["response"] / hand["n"], 1)
    lo, hi = body["response"]["ci95"]
    assert lo < body["response"]["rate"] < hi
    mean = sum(hand["reductions"]) / len(hand["reductions"])
    assert body["mean_percent_reduction"] == pytest.approx(mean, abs=0.06)
    for m, (kept, n) in hand["sustained"].items():
        got = body["sustained_remission"]["by_follow_up"][str(m)]
        assert (got["count"], got["n"]) == (kept, n), m
    assert body["sustained_remission"]["n"] == hand["sustained"][24][1]
    # The cohort is varied: relapses end some remissions, some patients are bipolar.
    follow_ups = body["sustained_remission"]["by_follow_up"].values()
    assert any(0 < f["count"] < f["n"] for f in follow_ups)
    assert body["by_group"]["bipolar"]["bipolar"]["patients"] >= 5
    assert set(body["by_group"]["prior_failure"]) >= {"ketamine", "tms"}
    assert body["protocol_deviations"]["total"] > 0
    assert body["published"] == {
        "mean_percent_reduction": 34.5,
        "response_rate": 19.0,
        "remission_rate": 9.5,
        "source": body["published"]["source"],
    }
    assert "Heliyon 2019" in body["published"]["source"]


def test_demo_cohort_is_reproducible(rt: Runtime, client: FlaskClient, seeded: Demo) -> None:
    from services import demo_cohort

    with rt.database.session() as s:
        # The cohort's imported check-ins (not Pat's and Sam's live ones, some made after it).
        totals = s.scalars(
            select(Phq9Checkin.total)
            .where(Phq9Checkin.rules_version == demo_cohort.IMPORT_RULES_VERSION)
            .order_by(Phq9Checkin.id)
        ).all()
    with rt.database.unit_of_work() as s:
        clinic = clinics.create_clinic(
            s, actor=None, name="Again", timezone="UTC", policy=None, now=rt.clock.now()
        )
        staff = clinics.create_staff(
            s,
            actor=None,
            role="clinician",
            name="Again",
            email="again@tandem.test",
            phone="+14155550199",
            password="correct horse battery",
            clinic_id=clinic.id,
            on_call_tier=1,
            now=rt.clock.now(),
        )
        s.query(User).filter(User.phone.like("+1303555%")).update({"phone": None})
        s.query(User).filter(User.phone.like("+1312555%")).update({"phone": None})
        demo_cohort.grow(
            s, clinicians=[staff], screening=dict(demo.ELIGIBLE_SCREENING), now=rt.clock.now()
        )
        s.flush()
        again = s.scalars(
            select(Phq9Checkin.total)
            .where(Phq9Checkin.clinic_id == clinic.id)
            .order_by(Phq9Checkin.id)
        ).all()
    assert list(again) == list(totals)


def test_csv_has_one_pseudonymous_row_per_patient(client: FlaskClient, seeded: Demo) -> None:
    response = client.get(
        f"/api/v1/clinics/{seeded.clinic_id}/outcomes",
        headers={**seeded.clinician, "Accept": "text/csv"},
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 62
    assert len({r["pseudonym"] for r in rows}) == 62
    assert "Demo" not in text and "Cohort Patient" not in text and "+1" not in text
    json_body = client.get(
        f"/api/v1/clinics/{seeded.clinic_id}/outcomes", headers=seeded.clinician
    ).get_json()
    assert sum(r["response"] == "true" for r in rows) == json_body["response"]["count"]


def test_one_query_reads_every_patients_checkins(
    client: FlaskClient, rt: Runtime, seeded: Demo
) -> None:
    statements: list[str] = []

    def spy(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(rt.database.engine, "before_cursor_execute", spy)
    try:
        response = client.get(
            f"/api/v1/clinics/{seeded.clinic_id}/outcomes", headers=seeded.clinician
        )
    finally:
        event.remove(rt.database.engine, "before_cursor_execute", spy)
    assert response.status_code == 200
    touching = [s for s in statements if "phq9_checkins" in s or "treatment_sessions" in s]
    assert len(touching) == 1


@pytest.mark.parametrize("accept", ["application/json", "text/csv"])
def test_another_clinic_is_404_and_a_patient_403(
    client: FlaskClient, rt: Runtime, seeded: Demo, accept: str
) -> None:
    with rt.database.unit_of_work() as s:
        other = clinics.create_clinic(
            s, actor=None, name="Other", timezone="UTC", policy=None, now=rt.clock.now()
        ).id
    foreign = client.get(
        f"/api/v1/clinics/{other}/outcomes", headers={**seeded.clinician, "Accept": accept}
    )
    assert foreign.status_code == 404
    assert foreign.mimetype == "application/problem+json"
    patient = client.get(
        f"/api/v1/clinics/{seeded.clinic_id}/outcomes",
        headers={**seeded.patient, "Accept": accept},
    )
    assert patient.status_code == 403
