"""Who may open each /inbox page: anonymous, a patient, another clinic's and own clinician.

The API's matrix (tests/authz/test_matrix.py) leaves the web endpoints out; this one
enumerates them the same way and fails for a web endpoint without a row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient

from services.runtime import Runtime
from tests.support.world import World
from tests.web.support import ROUTINE, csrf_token, raise_flags, sign_in


@dataclass(frozen=True)
class Page:
    method: str
    rule: str
    path: Callable[[World, int], str]
    scoped: bool  # names a record of clinic X: another clinic's clinician gets 404
    ok: int
    fields: tuple[tuple[str, str], ...] = ()


PAGES = (
    Page("GET", "/inbox/", lambda w, e: "/inbox/", False, 200),
    Page("GET", "/inbox/rows", lambda w, e: "/inbox/rows", False, 200),
    Page("GET", "/inbox/patients", lambda w, e: "/inbox/patients", False, 200),
    Page("GET", "/inbox/outcomes", lambda w, e: "/inbox/outcomes", False, 200),
    Page(
        "GET",
        "/inbox/escalations/<int:escalation_id>",
        lambda w, e: f"/inbox/escalations/{e}",
        True,
        200,
    ),
    Page(
        "GET",
        "/inbox/patients/<int:patient_id>",
        lambda w, e: f"/inbox/patients/{w.patient_a}",
        True,
        200,
    ),
    Page(
        "POST",
        "/inbox/escalations/<int:escalation_id>/acknowledge",
        lambda w, e: f"/inbox/escalations/{e}/acknowledge",
        True,
        303,
    ),
    Page(
        "POST",
        "/inbox/escalations/<int:escalation_id>/resolve",
        lambda w, e: f"/inbox/escalations/{e}/resolve",
        True,
        303,
        (("note", "Called the patient."),),
    ),
    Page(
        "POST",
        "/inbox/escalations/<int:escalation_id>/reassign",
        lambda w, e: f"/inbox/escalations/{e}/reassign",
        True,
        303,
        (("clinician_id", "x2"),),
    ),
)
# Open to anyone: the sign-in form, sign-out, static files and the 404 page for any other path.
PUBLIC = {
    "/inbox/login",
    "/inbox/logout",
    "/inbox/static/<path:filename>",
    "/inbox/<path:_unknown>",
}


def test_every_web_endpoint_has_a_row(app: Flask) -> None:
    rules = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("web.")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    covered = {(p.method, p.rule) for p in PAGES}
    assert {r for r in rules if r[1] not in PUBLIC} - covered == set()


def _request(client: FlaskClient, page: Page, world: World, escalation: int) -> int:
    url = page.path(world, escalation)
    if page.method == "GET":
        return client.get(url).status_code
    token = csrf_token(client.get("/inbox/login").get_data(as_text=True))
    fields = {k: (str(world.clinician_x2) if v == "x2" else v) for k, v in page.fields}
    return client.post(url, data={"csrf_token": token, **fields}).status_code


@pytest.mark.parametrize("page", PAGES, ids=[f"{p.method} {p.rule}" for p in PAGES])
def test_page(page: Page, app: Flask, rt: Runtime, world: World) -> None:
    (escalation,) = raise_flags(rt, world.patient_a, [ROUTINE])
    got: dict[str, int] = {}
    anonymous = app.test_client()
    got["anonymous"] = _request(anonymous, page, world, escalation)
    patient = app.test_client()
    got["patient login"] = sign_in(patient, World.pa_phone).status_code
    got["patient"] = _request(patient, page, world, escalation)
    other = app.test_client()
    sign_in(other, World.cy1)
    got["clinician_y"] = _request(other, page, world, escalation)
    mine = app.test_client()
    sign_in(mine, World.cx1)
    got["clinician_x"] = _request(mine, page, world, escalation)
    signed_out = 401 if page.rule == "/inbox/rows" else 303
    assert got == {
        "anonymous": signed_out,
        "patient login": 403,
        "patient": signed_out,
        "clinician_y": 404 if page.scoped else 200 if page.method == "GET" else 303,
        "clinician_x": page.ok,
    }
