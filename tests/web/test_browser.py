"""The clinician web app in a real browser: Debian's Chromium, driven by Playwright."""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from services.runtime import Runtime
from store.clock import FrozenClock
from tests.support.web import Browsing, screenshot
from tests.support.world import World
from tests.web.support import ROUTINE, URGENT, raise_flags

pytestmark = pytest.mark.browser


def api(base: str, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    """A call to the JSON API over the same real HTTP server the browser uses."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)  # noqa: S310
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return json.loads(response.read() or b"null")


def sign_in(page: Page, username: str = World.cx1, password: str = World.PASSWORD) -> None:
    page.goto("/inbox/login")
    page.get_by_label("E-mail or phone").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_login_and_logout(browsing: Browsing, world: World) -> None:
    page = browsing.page
    page.goto("/inbox/")
    expect(page).to_have_url(re.compile(r"/inbox/login"))
    screenshot(page, "login")
    sign_in(page, password="wrong password")
    expect(page.get_by_role("alert")).to_contain_text("wrong")
    sign_in(page)
    expect(page).to_have_url(re.compile(r"/inbox/$"))
    expect(page.get_by_role("heading", name="Escalation inbox")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "tandem_web")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/inbox/login"))
    expect(page.get_by_role("status")).to_contain_text("signed out")
    page.goto("/inbox/")
    expect(page).to_have_url(re.compile(r"/inbox/login"))
    assert browsing.requests.foreign() == []


def test_a_patient_cannot_sign_in(browsing: Browsing, world: World) -> None:
    sign_in(browsing.page, World.pa_phone)
    expect(browsing.page.get_by_role("alert")).to_contain_text("for clinic staff")
    browsing.page.goto("/inbox/")
    expect(browsing.page).to_have_url(re.compile(r"/inbox/login"))


def test_the_inbox_shows_a_new_escalation_by_itself(browsing: Browsing, world: World) -> None:
    page = browsing.page
    raise_flags(browsing.server.rt, world.patient_b, [ROUTINE])
    sign_in(page)
    rows = page.locator("tr[data-escalation-id]")
    expect(rows).to_have_count(1)
    # The patient checks in over the API with item 9 answered: an urgent escalation.
    base = browsing.server.url
    login = api(
        base, "POST", "/api/v1/auth/login", {"username": World.pa_phone, "password": World.PASSWORD}
    )
    api(
        base,
        "POST",
        "/api/v1/checkins/phq9",
        {"answers": [2, 2, 2, 2, 1, 1, 1, 1, 2]},
        token=login["access_token"],
    )
    # No reload: the page's own script fetches the rows (every 5 s; the contract says 15).
    urgent = page.locator('tr[data-priority="urgent"][data-status="open"]')
    expect(urgent).to_have_count(1, timeout=15_000)
    expect(rows.first).to_have_attribute("data-priority", "urgent")
    expect(urgent).to_contain_text("Suicidality")
    announcer = page.locator("#announcer")
    expect(announcer).to_have_attribute("aria-live", "assertive")
    expect(announcer).to_contain_text("New urgent escalation")
    expect(announcer).to_be_visible()
    screenshot(page, "inbox-updated")
    assert browsing.requests.foreign() == []
    assert browsing.console_errors == []


def test_acknowledge_and_resolve_by_clicking(browsing: Browsing, world: World) -> None:
    page = browsing.page
    (escalation_id,) = raise_flags(browsing.server.rt, world.patient_a, [URGENT])
    sign_in(page)
    page.locator(f'tr[data-escalation-id="{escalation_id}"] a').click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Suicidality")
    expect(page.locator("#pages tbody tr[data-message-id]").first).to_be_visible()
    screenshot(page, "escalation-open")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("#status")).to_have_text("Acknowledged")
    expect(page.get_by_role("status")).to_contain_text("paging has stopped")
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    # A resolve without a note is refused, and the page says why.
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator("#note-error")).to_contain_text("note")
    expect(page.locator("#status")).to_have_text("Acknowledged")
    page.get_by_label("What was done").fill("Called the patient; safety plan reviewed.")
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator("#status")).to_have_text("Resolved")
    expect(page.locator("#timeline li[data-event=resolved]")).to_have_count(1)
    screenshot(page, "escalation-resolved")
    # The same records as the API's actions, in the same audit trail.
    login = api(
        browsing.server.url,
        "POST",
        "/api/v1/auth/login",
        {"username": World.cx1, "password": World.PASSWORD},
    )
    detail = api(
        browsing.server.url,
        "GET",
        f"/api/v1/escalations/{escalation_id}",
        token=login["access_token"],
    )
    assert detail["status"] == "resolved"
    assert detail["resolution_note"] == "Called the patient; safety plan reviewed."
    assert [e["event"] for e in detail["timeline"]][-2:] == ["acknowledged", "resolved"]


def test_reassign(browsing: Browsing, world: World) -> None:
    page = browsing.page
    (escalation_id,) = raise_flags(browsing.server.rt, world.patient_a, [ROUTINE])
    sign_in(page)
    page.goto(f"/inbox/escalations/{escalation_id}")
    page.get_by_label("Hand to another clinician").select_option(str(world.clinician_x2))
    page.get_by_role("button", name="Reassign").click()
    expect(page.get_by_role("status")).to_contain_text("Reassigned")
    expect(page.locator("#timeline li[data-event=reassigned]")).to_have_count(1)


def test_a_post_without_the_csrf_token_is_refused(browsing: Browsing, world: World) -> None:
    page = browsing.page
    (escalation_id,) = raise_flags(browsing.server.rt, world.patient_a, [URGENT])
    sign_in(page)
    page.goto(f"/inbox/escalations/{escalation_id}")
    page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("heading", name="Form refused")).to_be_visible()
    page.goto(f"/inbox/escalations/{escalation_id}")
    expect(page.locator("#status")).to_have_text("Open")


def test_another_clinics_escalation_is_a_404(browsing: Browsing, world: World) -> None:
    page = browsing.page
    (foreign,) = raise_flags(browsing.server.rt, world.patient_c_y, [URGENT])
    sign_in(page)
    response = page.goto(f"/inbox/escalations/{foreign}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    response = page.goto(f"/inbox/patients/{world.patient_c_y}")
    assert response is not None and response.status == 404
    screenshot(page, "not-found")


def _checkins(
    rt: Runtime, clock: FrozenClock, token: str, base: str, totals: list[list[int]]
) -> None:
    for answers in totals:
        clock.advance(timedelta(days=2))
        api(base, "POST", "/api/v1/checkins/phq9", {"answers": answers}, token=token)


def test_the_chart_and_table_match_the_check_ins(
    browsing: Browsing, world: World, clock: FrozenClock
) -> None:
    page = browsing.page
    base = browsing.server.url
    login = api(
        base, "POST", "/api/v1/auth/login", {"username": World.pa_phone, "password": World.PASSWORD}
    )
    answers = [
        [3, 3, 2, 2, 2, 2, 2, 2, 0],
        [2, 2, 2, 1, 1, 1, 1, 1, 0],
        [1, 1, 1, 1, 0, 0, 0, 0, 0],
    ]
    # Treatment began before these check-ins, so the baseline is the screening's 20 (rules-2:
    # a post-treatment check-in is never a baseline).
    staff = api(
        base, "POST", "/api/v1/auth/login", {"username": World.cx1, "password": World.PASSWORD}
    )
    session = {
        "started_at": (clock.now() - timedelta(hours=2)).isoformat(),
        "ketamine_mg_per_kg": 0.5,
        "ketamine_infusion_minutes": 40,
        "tms_minutes": 30,
        "vitals": [],
    }
    api(
        base,
        "POST",
        f"/api/v1/patients/{world.patient_a}/sessions",
        session,
        token=staff["access_token"],
    )
    _checkins(browsing.server.rt, clock, login["access_token"], base, answers)
    sign_in(page)
    page.goto(f"/inbox/patients/{world.patient_a}")
    rows = page.locator("#phq9-history tbody tr")
    expect(rows).to_have_count(3)
    totals = [int(rows.nth(i).locator("td").nth(1).inner_text().split()[0]) for i in range(3)]
    assert totals == [4, 11, 18]  # newest first
    assert [rows.nth(i).locator("td").nth(2).inner_text() for i in range(3)] == [
        "Minimal",
        "Moderate",
        "Moderately severe",
    ]
    chart = page.locator("#phq9-chart svg")
    expect(chart).to_be_visible()
    # pygal keeps each point's value in the series' <desc class="value">.
    values = chart.locator(".serie-5 .dots desc.value").evaluate_all(
        "nodes => nodes.map(n => n.textContent)"
    )
    assert sorted(int(v.rsplit(" ", 1)[-1].strip("()")) for v in values) == [4, 11, 18], values
    legend = chart.locator(".legends").evaluate("node => node.textContent")
    for text in (
        "Severe 20-27",
        "Minimal 0-4",
        "Baseline 20",
        "Response (50 %) 10",
        "Remission (< 5)",
        "Session",
    ):
        assert text in legend
    screenshot(page, "patient")
    assert browsing.requests.foreign() == []


def test_pages_pass_axe(browsing: Browsing, world: World) -> None:
    from axe_playwright_python.sync_playwright import Axe

    page = browsing.page
    (escalation_id,) = raise_flags(browsing.server.rt, world.patient_a, [URGENT])
    axe = Axe()
    bad: dict[str, list[str]] = {}

    def check(name: str) -> None:
        results = axe.run(page)
        serious = [
            f"{v['id']}: {v['help']} ({len(v['nodes'])}) "
            + "; ".join(str(n.get("html", ""))[:120] for n in v["nodes"])
            for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        if serious:
            bad[name] = serious
        screenshot(page, f"axe-{name}")

    page.goto("/inbox/login")
    check("login")
    sign_in(page, password="wrong")
    check("login-error")
    sign_in(page)
    check("inbox")
    page.goto(f"/inbox/escalations/{escalation_id}")
    check("escalation")
    page.get_by_role("button", name="Resolve").click()
    check("escalation-note-refused")
    page.goto("/inbox/patients")
    check("patients")
    page.goto(f"/inbox/patients/{world.patient_a}")
    check("patient")
    page.goto("/inbox/outcomes")
    check("outcomes")
    page.goto("/inbox/escalations/999999")
    check("not-found")
    assert bad == {}
    assert browsing.requests.foreign() == []


def test_keyboard_only(browsing: Browsing, world: World) -> None:
    """Sign in, open the escalation, acknowledge, resolve and open the patient: Tab and Enter."""
    page = browsing.page
    (escalation_id,) = raise_flags(browsing.server.rt, world.patient_a, [URGENT])
    kb = page.keyboard

    def tab_to(predicate: str, limit: int = 40) -> None:
        for _ in range(limit):
            kb.press("Tab")
            if page.evaluate(
                f"(() => {{ const e = document.activeElement; return !!e && ({predicate}); }})()"
            ):
                return
        raise AssertionError(f"Tab never reached {predicate}")

    page.goto("/inbox/login")
    # The username field has the focus on arrival (waited for: typing before the focus lands
    # would drop the first keys, as it did under load).
    expect(page.get_by_label("E-mail or phone")).to_be_focused()
    kb.type(World.cx1)
    kb.press("Tab")
    kb.type(World.PASSWORD)
    kb.press("Enter")
    expect(page).to_have_url(re.compile(r"/inbox/$"))
    tab_to(f"e.getAttribute('href') === '/inbox/escalations/{escalation_id}'")
    kb.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Suicidality")
    tab_to("e.id === 'acknowledge'")
    kb.press("Enter")
    expect(page.locator("#status")).to_have_text("Acknowledged")
    tab_to("e.id === 'note'")
    kb.type("Spoke with the patient by phone.")
    tab_to("e.id === 'resolve'")
    kb.press("Enter")
    expect(page.locator("#status")).to_have_text("Resolved")
    tab_to(f"e.getAttribute('href') === '/inbox/patients/{world.patient_a}'")
    kb.press("Enter")
    expect(page.locator("#phq9-history")).to_be_visible()


def test_docs_serve_their_own_assets(browsing: Browsing) -> None:
    page = browsing.page
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    page.goto("/docs")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=15_000)
    assert browsing.requests.foreign() == []
    assert any("/docs/assets/swagger-ui-bundle.js" in url for url in browsing.requests.seen)
    assert missing == [], missing
