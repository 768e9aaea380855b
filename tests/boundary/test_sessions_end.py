"""A new password or a deactivation ends sessions at once (issue 15 item 5)."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from services import auth as auth_service
from services.runtime import Runtime
from store.models import AuditEvent, User
from tests.support.suite import Auth
from tests.support.world import World

ME = "/api/v1/me"
PASSWORD_URL = "/api/v1/auth/password"
NEW_PASSWORD = "another horse battery"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _works(client: FlaskClient, tokens: dict[str, Any], path: str = ME) -> bool:
    access = client.get(path, headers=_bearer(tokens["access_token"])).status_code
    refresh = client.post(
        "/api/v1/auth/refresh", headers=_bearer(tokens["refresh_token"])
    ).status_code
    assert (access == 200) == (refresh == 200), (access, refresh)
    return access == 200


def test_reactivation_ends_every_earlier_session(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime
) -> None:
    old = auth.login(World.pa_phone, World.PASSWORD)
    assert _works(client, old)
    with rt.database.unit_of_work() as session:
        user = session.get(User, world.patient_a)
        assert user is not None
        code = auth_service.new_activation_code(session, user=user, now=rt.clock.now())
    response = client.post(
        "/api/v1/auth/activate",
        json={"phone": World.pa_phone, "code": code, "password": NEW_PASSWORD},
    )
    assert response.status_code == 200, response.get_json()
    assert not _works(client, old)
    assert _works(client, response.get_json())


def test_changing_the_password_ends_every_other_session(
    client: FlaskClient, auth: Auth, world: World
) -> None:
    other = auth.login(World.pa_phone, World.PASSWORD)
    mine = auth.login(World.pa_phone, World.PASSWORD)
    response = client.post(
        PASSWORD_URL,
        json={"current_password": World.PASSWORD, "new_password": NEW_PASSWORD},
        headers=_bearer(mine["access_token"]),
    )
    assert response.status_code == 204, response.get_data(as_text=True)
    assert not _works(client, other)
    assert _works(client, mine)
    refused = client.post(
        "/api/v1/auth/login", json={"username": World.pa_phone, "password": World.PASSWORD}
    )
    assert refused.status_code == 401
    assert auth.login(World.pa_phone, NEW_PASSWORD)["access_token"]


def test_a_wrong_current_password_changes_nothing_and_is_throttled(
    client: FlaskClient, auth: Auth, world: World
) -> None:
    other = auth.login(World.cx1, World.PASSWORD)
    mine = auth.login(World.cx1, World.PASSWORD)
    statuses = []
    for n in range(auth_service.LOGIN_MAX_FAILURES + 1):
        response = client.post(
            PASSWORD_URL,
            json={"current_password": f"guess {n}", "new_password": NEW_PASSWORD},
            headers=_bearer(mine["access_token"]),
        )
        statuses.append(response.status_code)
    assert statuses[:-1] == [422] * auth_service.LOGIN_MAX_FAILURES
    assert statuses[-1] == 429
    assert _works(client, other, "/api/v1/patients")


def test_a_weak_new_password_is_422(client: FlaskClient, auth: Auth, world: World) -> None:
    response = client.post(
        PASSWORD_URL,
        json={"current_password": World.PASSWORD, "new_password": "short"},
        headers=auth.headers(World.cx1),
    )
    assert response.status_code == 422
    assert "new_password" in response.get_json()["errors"]


def test_deactivating_a_clinician_ends_their_sessions_at_once(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime
) -> None:
    tokens = auth.login(World.cx2, World.PASSWORD)
    assert _works(client, tokens, "/api/v1/patients")
    response = client.post(
        f"/api/v1/clinicians/{world.clinician_x2}/deactivate", headers=auth.headers(World.admin)
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["is_active"] is False
    assert not _works(client, tokens, "/api/v1/patients")
    refused = client.post(
        "/api/v1/auth/login", json={"username": World.cx2, "password": World.PASSWORD}
    )
    assert refused.status_code == 401
    with rt.database.session() as session:
        from services.auth import find_user_by_username

        user = find_user_by_username(session, World.cx2)
        assert user is not None and user.is_active is False
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.target_id == str(world.clinician_x2))
        ).all()
    assert "clinician.deactivate" in actions
    # Once more: idempotent.
    again = client.post(
        f"/api/v1/clinicians/{world.clinician_x2}/deactivate", headers=auth.headers(World.admin)
    )
    assert again.status_code == 200


def test_only_clinicians_can_be_deactivated(client: FlaskClient, auth: Auth, world: World) -> None:
    admin = auth.headers(World.admin)
    for target in (world.patient_a, world.admin_id, 999_999):
        response = client.post(f"/api/v1/clinicians/{target}/deactivate", headers=admin)
        assert response.status_code == 404


def test_deactivating_the_last_reachable_clinician_moves_paging_on_at_once(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime
) -> None:
    """Clinic Y has one clinician: deactivating them leaves an urgent flag with nobody, so
    the chain ends now and the clinic's fallback phone is texted (issue 15, class of item 1)."""
    from clinical.rules import Flag
    from services.escalations import raise_escalations
    from store.escalations import Escalation
    from store.models import OutboxMessage, PatientProfile

    fallback = "+12025550177"
    patched = client.patch(
        f"/api/v1/clinics/{world.clinic_y}",
        json={"escalation_policy": {"fallback_phone": fallback}},
        headers=auth.headers(World.admin),
    )
    assert patched.status_code == 200, patched.get_json()
    flag = Flag(kind="suicidality", priority="urgent", rule="test", evidence={"item9": 2})
    with rt.database.unit_of_work() as session:
        profile = session.get(PatientProfile, world.patient_c_y)
        assert profile is not None
        [ref] = raise_escalations(
            session,
            patient=profile,
            flags=[flag],
            source_type="phq9",
            source_id=None,
            now=rt.clock.now(),
        )
    response = client.post(
        f"/api/v1/clinicians/{world.clinician_y1}/deactivate", headers=auth.headers(World.admin)
    )
    assert response.status_code == 200
    with rt.database.session() as session:
        escalation = session.get_one(Escalation, ref.id)
        assert escalation.paging_exhausted is True
        assert escalation.next_page_at is None
        to_fallback = session.scalars(
            select(OutboxMessage.purpose).where(OutboxMessage.to_number == fallback)
        ).all()
    assert to_fallback, "the fallback phone was not texted"
