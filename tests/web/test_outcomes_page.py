"""`/inbox/outcomes`: the cohort report of the API, on a page, beside the published figures."""

from __future__ import annotations

import re
from html import unescape

from flask.testing import FlaskClient
from sqlalchemy import select

from services import demo
from services.runtime import Runtime
from store.models import AuditEvent, Clinic
from tests.support.world import World
from tests.web.support import sign_in
from web import format as fmt


def _demo_clinician(rt: Runtime) -> tuple[int, str, str]:
    lines = "\n".join(demo.seed(rt))
    [(user, password)] = re.findall(r"^\s+clinician \(tier 1\)\s+(\S+)\s+(\S+)$", lines, re.M)
    with rt.database.session() as session:
        clinic_id = session.scalars(select(Clinic.id).where(Clinic.name == demo.DEMO_CLINIC)).one()
    return clinic_id, user, password


def _row(html: str, heading: str) -> str:
    """The text of a table row's cells after its heading, in order."""
    match = re.search(rf"<th scope=\"row\">{re.escape(heading)}</th>(.*?)</tr>", html, re.S)
    assert match, heading
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


def test_the_page_shows_the_apis_report_and_the_published_figures(
    client: FlaskClient, rt: Runtime
) -> None:
    clinic_id, user, password = _demo_clinician(rt)
    token = client.post(
        "/api/v1/auth/login", json={"username": user, "password": password}
    ).get_json()["access_token"]
    report = client.get(
        f"/api/v1/clinics/{clinic_id}/outcomes", headers={"Authorization": f"Bearer {token}"}
    ).get_json()

    assert sign_in(client, user, password).status_code == 303
    page = client.get("/inbox/outcomes")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    response, remission = report["response"], report["remission"]
    assert _row(html, "Response") == (
        f"{response['rate']} % (95 % CI {response['ci95'][0]}\N{EN DASH}{response['ci95'][1]}; "
        f"{response['count']} of {response['n']}) {report['published']['response_rate']} %"
    )
    assert _row(html, "Remission").startswith(f"{remission['rate']} % (95 % CI")
    assert _row(html, "Evaluable (baseline PHQ-9 ≥ 10)").startswith(str(report["evaluable"]))
    assert str(report["published"]["mean_percent_reduction"]) in _row(
        html, "Mean reduction at completion"
    )
    assert "Heliyon 2019" in html
    for months, rate in report["sustained_remission"]["by_follow_up"].items():
        assert _row(html, months).startswith(
            f"{rate['rate']} %" if rate["rate"] is not None else "no patient"
        )
    for reason, count in report["not_evaluable"].items():
        assert f"{fmt.label(reason)}: {count}" in unescape(html)
    assert "No PHQ-9 baseline" in html
    assert '<figure id="outcomes-chart"><svg' in html
    assert "This clinic" in html and "Published" in html
    with rt.database.session() as session:
        reads = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action == "outcomes.read")
        ).all()
    assert len(reads) == 2  # the API's read and the page's


def test_the_page_is_only_the_viewers_clinic(
    client: FlaskClient, rt: Runtime, world: World
) -> None:
    """A clinician of clinic Y sees clinic Y's (empty) cohort, never the other's."""
    assert sign_in(client, World.cy1).status_code == 303
    html = client.get("/inbox/outcomes").get_data(as_text=True)
    assert _row(html, "Patients").startswith("1 ")  # clinic Y has one patient
    assert _row(html, "Response").startswith("no patient to count")
