"""The web app over real HTTP (a werkzeug server thread) and Chromium through Playwright."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from api.app import create_app
from services.runtime import Runtime

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"


@dataclass
class LiveServer:
    url: str
    rt: Runtime


@pytest.fixture
def live_server(rt: Runtime) -> Iterator[LiveServer]:
    server: BaseWSGIServer = make_server("127.0.0.1", 0, create_app(rt=rt), threaded=True)
    serving = threading.Thread(target=server.serve_forever, name="web-http", daemon=True)
    serving.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", rt)
    finally:
        server.shutdown()
        server.server_close()
        serving.join(5)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


@dataclass
class Requests:
    """Every request the page made, so a test can prove none left for another origin."""

    origin: str
    seen: list[str] = field(default_factory=list)

    def foreign(self) -> list[str]:
        mine = urlsplit(self.origin)
        return [
            u
            for u in self.seen
            if not u.startswith(("data:", "blob:", "about:"))
            and (urlsplit(u).scheme, urlsplit(u).netloc) != (mine.scheme, mine.netloc)
        ]


@dataclass
class Browsing:
    page: object
    server: LiveServer
    requests: Requests
    console_errors: list[str]


@pytest.fixture
def browsing(browser: object, live_server: LiveServer) -> Iterator[Browsing]:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    requests = Requests(live_server.url)
    page.on("request", lambda request: requests.seen.append(request.url))
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        yield Browsing(page, live_server, requests, errors)
    finally:
        context.close()


def screenshot(page: object, name: str) -> Path:
    """Keep a full-page screenshot as a CI artefact (git ignores the folder)."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Browser tests share one Chromium; mark them so `-m "not browser"` can leave them out.
    for item in items:
        if "browsing" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
