"""The web pages through Flask's test client: sessions, CSRF, throttling, audit, filters."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select

from services.runtime import Runtime
from store.clock import FrozenClock
from store.models import AuditEvent, AuthSession
from tests.support.world import World
from tests.web.support import ROUTINE, URGENT, csrf_token, post_form, raise_flags, sign_in


def test_the_session_cookie_is_httponly_lax_and_secure(client: FlaskClient, world: World) -> None:
    response = sign_in(client, World.cx1)
    assert response.status_code == 303 and response.headers["Location"] == "/inbox/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert "Path=/inbox" in cookie


def test_pages_carry_a_self_only_csp(client: FlaskClient, world: World) -> None:
    page = client.get("/inbox/login")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "http" not in csp
    assert page.headers["Cache-Control"] == "no-store"


def test_a_session_expires_after_15_idle_minutes(
    client: FlaskClient, world: World, clock: FrozenClock
) -> None:
    sign_in(client, World.cx1)
    clock.advance(timedelta(minutes=14))
    assert client.get("/inbox/").status_code == 200  # activity moves the deadline on
    clock.advance(timedelta(minutes=14))
    assert client.get("/inbox/patients").status_code == 200
    # Polling is not activity: it neither extends the session nor outlives it.
    clock.advance(timedelta(minutes=10))
    assert client.get("/inbox/rows").status_code == 200
    clock.advance(timedelta(minutes=6))
    assert client.get("/inbox/rows").status_code == 401
    response = client.get("/inbox/")
    assert response.status_code == 303 and "/inbox/login" in response.headers["Location"]


def test_logout_revokes_the_session_even_for_a_replayed_cookie(
    app: object, client: FlaskClient, rt: Runtime, world: World
) -> None:
    sign_in(client, World.cx1)
    cookie = client.get_cookie("tandem_web", path="/inbox")
    assert cookie is not None
    response = post_form(client, "/inbox/", "/inbox/logout")
    assert response.status_code == 303
    with rt.database.unit_of_work() as session:
        assert all(s.revoked_at is not None for s in session.scalars(select(AuthSession)))
    client.set_cookie("tandem_web", cookie.value, path="/inbox")
    assert client.get("/inbox/").status_code == 303


def test_a_post_without_csrf_token_is_refused(
    client: FlaskClient, rt: Runtime, world: World
) -> None:
    (escalation_id,) = raise_flags(rt, world.patient_a, [URGENT])
    sign_in(client, World.cx1)
    response = client.post(f"/inbox/escalations/{escalation_id}/acknowledge")
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    response = client.post(
        f"/inbox/escalations/{escalation_id}/acknowledge", data={"csrf_token": "forged"}
    )
    assert response.status_code == 400
    anonymous_login = client.post("/inbox/login", data={"username": World.cx1, "password": "x"})
    assert anonymous_login.status_code == 400


def test_login_shares_the_apis_throttle(client: FlaskClient, world: World) -> None:
    for _ in range(5):
        assert sign_in(client, World.cx1, "wrong password").status_code == 401
    refused = sign_in(client, World.cx1)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    api = client.post(
        "/api/v1/auth/login", json={"username": World.cx1, "password": World.PASSWORD}
    )
    assert api.status_code == 429


def test_patients_and_admins_are_refused(client: FlaskClient, world: World) -> None:
    for username in (World.pa_phone, World.admin):
        response = sign_in(client, username)
        assert response.status_code == 403
        assert "for clinic staff" in response.get_data(as_text=True)
        assert client.get("/inbox/").status_code == 303


def test_next_only_leads_inside_the_app(client: FlaskClient, world: World) -> None:
    page = client.get("/inbox/login?next=//evil.example/x")
    token = csrf_token(page.get_data(as_text=True))
    response = client.post(
        "/inbox/login?next=//evil.example/x",
        data={"username": World.cx1, "password": World.PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/inbox/"
    client.post("/inbox/logout", data={"csrf_token": csrf_token(client.get("/inbox/").text)})
    redirect = client.get("/inbox/patients")
    assert redirect.headers["Location"].endswith("/inbox/login?next=/inbox/patients")


def test_inbox_orders_and_filters_through_the_service(
    client: FlaskClient, rt: Runtime, world: World
) -> None:
    routine = raise_flags(rt, world.patient_a, [ROUTINE])[0]
    urgent = raise_flags(rt, world.patient_b, [URGENT])[0]
    foreign = raise_flags(rt, world.patient_c_y, [URGENT])[0]
    sign_in(client, World.cx1)
    html = client.get("/inbox/").get_data(as_text=True)
    assert html.index(f'data-escalation-id="{urgent}"') < html.index(
        f'data-escalation-id="{routine}"'
    )
    assert f'data-escalation-id="{foreign}"' not in html
    only_routine = client.get("/inbox/?priority=routine").get_data(as_text=True)
    assert f'data-escalation-id="{routine}"' in only_routine
    assert f'data-escalation-id="{urgent}"' not in only_routine
    assert f'data-escalation-id="{urgent}"' in client.get("/inbox/rows?kind=suicidality").text
    assert "data-escalation-id" not in client.get("/inbox/?mine=1").text
    bad = client.get("/inbox/?status=lost")
    assert bad.status_code == 422 and "Must be one of" in bad.text


def test_actions_are_audited_like_the_api(client: FlaskClient, rt: Runtime, world: World) -> None:
    (escalation_id,) = raise_flags(rt, world.patient_a, [URGENT])
    sign_in(client, World.cx1)
    page = f"/inbox/escalations/{escalation_id}"
    assert post_form(client, page, f"{page}/acknowledge").status_code == 303
    refused = post_form(client, page, f"{page}/resolve", note="   ")
    assert refused.status_code == 422
    assert "A note of 1 to 2000 characters is required." in refused.text
    assert post_form(client, page, f"{page}/resolve", note="Called back.").status_code == 303
    again = post_form(client, page, f"{page}/reassign", clinician_id=str(world.clinician_x2))
    assert again.status_code == 409 and "already resolved" in again.text
    with rt.database.unit_of_work() as session:
        actions = [
            a.action
            for a in session.scalars(
                select(AuditEvent).where(AuditEvent.target_id == str(escalation_id))
            )
        ]
    assert "escalation.acknowledge" in actions and "escalation.resolve" in actions


def test_reassign_to_someone_outside_the_clinic_is_refused(
    client: FlaskClient, rt: Runtime, world: World
) -> None:
    (escalation_id,) = raise_flags(rt, world.patient_a, [ROUTINE])
    sign_in(client, World.cx1)
    page = f"/inbox/escalations/{escalation_id}"
    response = post_form(client, page, f"{page}/reassign", clinician_id=str(world.clinician_y1))
    assert response.status_code == 422
    assert "Must be an active clinician of your clinic." in response.text


def test_unknown_inbox_paths_are_a_web_404(client: FlaskClient, world: World) -> None:
    sign_in(client, World.cx1)
    response = client.get("/inbox/no/such/page")
    assert response.status_code == 404 and response.mimetype == "text/html"


def test_docs_assets_come_from_tandem(client: FlaskClient) -> None:
    page = client.get("/docs").get_data(as_text=True)
    assert "cdn" not in page and "/docs/assets/swagger-ui-bundle.js" in page
    asset = client.get("/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and "javascript" in asset.mimetype
    assert "default-src 'self'" in asset.headers["Content-Security-Policy"]
    asset.close()


def test_nul_characters_in_a_form_are_a_400_page_not_a_500(
    client: FlaskClient, rt: Runtime, world: World
) -> None:
    # PostgreSQL cannot store or compare text with NUL: refused as bad input, like the API.
    page = client.get("/inbox/login")
    token = csrf_token(page.get_data(as_text=True))
    response = client.post(
        "/inbox/login",
        data={"username": "x1\x00@tandem.test", "password": "p", "csrf_token": token},
    )
    assert response.status_code == 400 and "NUL" in response.text
    (escalation_id,) = raise_flags(rt, world.patient_a, [URGENT])
    sign_in(client, World.cx1)
    url = f"/inbox/escalations/{escalation_id}"
    response = post_form(client, url, f"{url}/resolve", note="called\x00back")
    assert response.status_code == 400
    assert client.get(url).text.count('data-status="open"') == 1
    assert client.get("/inbox/?kind=\x00").status_code == 400


def test_a_bipolar_patient_without_answers_still_gets_both_charts(
    client: FlaskClient, auth: object, world: World
) -> None:
    from tests.support.suite import Auth

    assert isinstance(auth, Auth)
    response = client.patch(
        f"/api/v1/patients/{world.patient_a}",
        json={"bipolar": True},
        headers=auth.headers(World.cx1),
    )
    assert response.status_code == 200, response.get_json()
    sign_in(client, World.cx1)
    page = client.get(f"/inbox/patients/{world.patient_a}")
    assert page.status_code == 200
    assert 'id="phq9-chart"' in page.text and 'id="asrm-chart"' in page.text
    assert "No check-ins yet." in page.text


def test_the_patients_list_shows_latest_change_and_overdue(
    client: FlaskClient, rt: Runtime
) -> None:
    import re

    from services import demo

    lines = list(demo.seed(rt))
    username, password = next(
        (m[1], m[2])
        for line in lines
        if (m := re.match(r"\s+clinician \(tier 1\)\s+(\S+)\s+(\S+)$", line))
    )
    sign_in(client, username, password)
    # Newest first, 50 a page: the demo's first patient is on the last page of its cohort.
    page = client.get("/inbox/patients").text
    while ">Pat Demo<" not in page and (more := re.search(r'href="([^"]+)">More patients', page)):
        page = client.get(more.group(1).replace("&amp;", "&")).text
    pat = page[page.index(">Pat Demo<") :].split("</tr>")[0]
    # Baseline 21 (screening), latest 12 (the overnight check-in): -9, -43 %.
    assert "12 <span" in pat and "-9" in pat and "-43%" in pat
    assert 'class="tag warn"' in pat  # the demo's unanswered tasks are overdue


def test_the_cookie_is_not_secure_only_in_development(rt: Runtime, world: World) -> None:
    from api.app import create_app

    development = Runtime.from_settings(
        rt.settings.with_overrides(env="development"),
        database=rt.database,
        sms=rt.sms,
        clock=rt.clock,
    )
    client = create_app(rt=development).test_client()
    cookie = sign_in(client, World.cx1).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_the_inbox_shows_who_is_on_call_now(client: FlaskClient, rt: Runtime, world: World) -> None:
    """Issue 13: without a schedule, the on_call_tier clinicians; with one, the rotation's."""
    import re

    sign_in(client, World.cx1)
    page = client.get("/inbox/").text
    tiers = re.findall(r'<li data-tier="(\d)" data-clinician-id="(\d+)">', page)
    assert tiers == [
        ("1", str(world.clinician_x1)),
        ("2", str(world.clinician_x2)),
        ("3", str(world.clinician_x3)),
    ]
    token = client.post(
        "/api/v1/auth/login", json={"username": World.cx1, "password": World.PASSWORD}
    ).get_json()["access_token"]
    put = client.put(
        f"/api/v1/clinics/{world.clinic_x}/on-call",
        json={
            "tiers": {
                "1": {
                    "rotation": [world.clinician_x3],
                    "handoff": "08:00",
                    "length_days": 7,
                    "starts_on": "2026-10-26",
                }
            },
            "overrides": [],
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert put.status_code == 200, put.get_json()
    page = client.get("/inbox/").text
    tiers = re.findall(r'<li data-tier="(\d)" data-clinician-id="(\d+)">', page)
    assert ("1", str(world.clinician_x3)) in tiers
    assert ("1", str(world.clinician_x1)) not in tiers
    assert "(rotation, until" in page
