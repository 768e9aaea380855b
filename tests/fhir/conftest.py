"""A world with history: patient A (clinic X) has sessions with vitals and PHQ-9s (with ASRM)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from services import selfreport, sessions
from services.runtime import Runtime
from store.models import User
from tests.support.fhir import (
    BASE,  # noqa: F401
    History,
    fhir_json,  # noqa: F401
    valid,  # noqa: F401
)
from tests.support.suite import Auth
from tests.support.world import World


@pytest.fixture
def history(rt: Runtime, world: World, auth: Auth, client: FlaskClient) -> History:
    now = rt.clock.now()
    checkins, session_ids = [], []
    with rt.database.unit_of_work() as s:
        clinician = s.get(User, world.clinician_x1)
        patient = s.get(User, world.patient_a)
        other = s.get(User, world.patient_c_y)
        clinician_y = s.get(User, world.clinician_y1)
        assert clinician and patient and other and clinician_y
        for day, total in ((6, 18), (4, 12), (2, 7)):
            started = now - timedelta(days=day, hours=3)
            recorded = sessions.record_session(
                s,
                clinician=clinician,
                patient_id=patient.id,
                now=now,
                data={
                    "started_at": started,
                    "ketamine_mg_per_kg": 0.5,
                    "ketamine_infusion_minutes": 40,
                    "tms_minutes": 30,
                    "vitals": [
                        {
                            "at": started + timedelta(minutes=15 * i),
                            "systolic": 120 + i,
                            "diastolic": 80,
                            "heart_rate": 70 + i if i < 2 else None,
                        }
                        for i in range(3)
                    ],
                },
            )
            session_ids.append(recorded.record.id)
            answers = [min(3, max(0, total - 3 * i)) for i in range(8)] + [0]
            result = selfreport.submit_phq9(
                s,
                patient=patient,
                answers=answers,
                difficulty=1,
                asrm=[1, 0, 1, 0, 0] if day == 2 else None,
                answered_at=started + timedelta(days=1),
                now=now,
            )
            checkins.append(result.record.id)
        sessions.record_session(
            s,
            clinician=clinician_y,
            patient_id=other.id,
            now=now,
            data={
                "started_at": now - timedelta(days=1),
                "ketamine_mg_per_kg": 0.5,
                "ketamine_infusion_minutes": 40,
                "tms_minutes": 30,
                "vitals": [
                    {
                        "at": now - timedelta(days=1),
                        "systolic": 130,
                        "diastolic": 85,
                        "heart_rate": 80,
                    }
                ],
            },
        )
        selfreport.submit_phq9(s, patient=other, answers=[1] * 8 + [0], now=now)
    return History(
        world=world,
        checkins=checkins,
        sessions=session_ids,
        cx=auth.headers(World.cx1),
        cy=auth.headers(World.cy1),
        pa=auth.headers(World.pa_phone),
        admin=auth.headers(World.admin),
    )
