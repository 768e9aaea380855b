"""Helpers for the web app's tests: sign in through the form, read CSRF tokens, raise flags."""

from __future__ import annotations

import re
from collections.abc import Sequence

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from clinical.rules import Flag
from services.escalations import raise_escalations
from services.runtime import Runtime
from store.models import PatientProfile
from tests.support.world import World

TOKEN = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


def csrf_token(html: str) -> str:
    match = TOKEN.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def sign_in(client: FlaskClient, username: str, password: str = World.PASSWORD) -> TestResponse:
    page = client.get("/inbox/login")
    return client.post(
        "/inbox/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        },
    )


def post_form(client: FlaskClient, page_url: str, action: str, **fields: str) -> TestResponse:
    """POST a form the way a browser would: with the token from the page it sits on."""
    page = client.get(page_url)
    assert page.status_code == 200, page.status_code
    return client.post(
        action, data={"csrf_token": csrf_token(page.get_data(as_text=True)), **fields}
    )


def raise_flags(rt: Runtime, patient_id: int, flags: Sequence[Flag]) -> list[int]:
    with rt.database.unit_of_work() as session:
        profile = session.get(PatientProfile, patient_id)
        assert profile is not None
        refs = raise_escalations(
            session,
            patient=profile,
            flags=list(flags),
            source_type="phq9",
            source_id=None,
            now=rt.clock.now(),
        )
        return [r.id for r in refs]


URGENT = Flag(kind="suicidality", priority="urgent", rule="phq9_item9", evidence={"item9": 2})
ROUTINE = Flag(kind="worsening", priority="routine", rule="worsening", evidence={"points": 5})
