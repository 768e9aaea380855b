"""The web app over real HTTP (a werkzeug server thread) and Chromium through Playwright."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from api.app import create_app
from services.runtime import Runtime
from tests.support.web import (
    ARTIFACTS,  # noqa: F401
    CHROMIUM,
    Browsing,
    LiveServer,
    Requests,
    screenshot,  # noqa: F401
)


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Browser tests share one Chromium; mark them so `-m "not browser"` can leave them out.
    for item in items:
        if "browsing" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
