"""The README's screenshots: `tandem demo`'s data, in the test suite's browser.

Every run keeps them under tests/web/artifacts/; with TANDEM_DOCS_SCREENSHOTS=1
(`make screenshots`) they are also written to docs/, where the README shows them.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from services import demo
from tests.support.web import Browsing, screenshot

pytestmark = pytest.mark.browser
DOCS = Path(__file__).resolve().parents[2] / "docs"


def _logins(lines: list[str]) -> dict[str, tuple[str, str]]:
    """The demo's printed logins, by role (first of each role) and by username."""
    found: dict[str, tuple[str, str]] = {}
    for line in lines:
        match = re.match(r"\s+(patient|clinician \(tier 1\))\s+(\S+)\s+(\S+)$", line)
        if match:
            found.setdefault(match.group(2), (match.group(2), match.group(3)))
            found.setdefault(match.group(1), (match.group(2), match.group(3)))
    return found


def test_demo_screenshots_for_the_readme(browsing: Browsing) -> None:
    rt, page = browsing.server.rt, browsing.page
    logins = _logins(list(demo.seed(rt)))
    clinician = logins["clinician (tier 1)"]
    page.goto("/inbox/login")
    page.get_by_label("E-mail or phone").fill(clinician[0])
    page.get_by_label("Password").fill(clinician[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator('tr[data-priority="urgent"][data-status="open"]').first).to_be_visible()
    shots = [screenshot(page, "docs-inbox")]
    page.get_by_role("link", name="Patients", exact=True).click()
    # Newest first, 50 a page: the demo's two patients come after its 60-patient cohort.
    sam, more = (
        page.get_by_role("link", name="Sam Demo"),
        page.get_by_role("link", name="More patients"),
    )
    expect(sam.or_(more).first).to_be_visible()
    while sam.count() == 0:
        more.click()
        page.wait_for_load_state()
        expect(sam.or_(more).first).to_be_visible()
    page.get_by_role("link", name="Sam Demo").click()
    expect(page.locator("#asrm-chart svg")).to_be_visible()
    shots.append(screenshot(page, "docs-patient"))
    page.get_by_role("link", name="Outcomes", exact=True).click()
    expect(page.locator("#outcomes-chart svg")).to_be_visible()
    shots.append(screenshot(page, "docs-outcomes"))
    assert browsing.requests.foreign() == []
    if os.environ.get("TANDEM_DOCS_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        names = ("web-inbox.png", "web-patient.png", "web-outcomes.png")
        for shot, name in zip(shots, names, strict=True):
            shutil.copyfile(shot, DOCS / name)
