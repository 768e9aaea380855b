"""/docs loads nothing from a CDN: every asset is Tandem's own, under a CSP of 'self'."""

from __future__ import annotations

import re

from flask.testing import FlaskClient


def test_the_docs_page_loads_only_its_own_assets(client: FlaskClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "http://" not in page and "https://" not in page
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'self'" in csp
    assert "unsafe-inline" not in csp and "cdn" not in csp
    # No inline script: every <script> has a src on our own /docs/assets.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert scripts
    for attributes, body in scripts:
        assert body.strip() == ""
        (src,) = re.findall(r'src="([^"]+)"', attributes)
        assert src.startswith("/docs/assets/")
        asset = client.get(src)
        assert asset.status_code == 200, src
        assert asset.mimetype == "text/javascript"
    for href in re.findall(r'href="([^"]+)"', page):
        assert href.startswith("/docs/assets/")
        assert client.get(href).status_code == 200, href


def test_only_the_listed_assets_are_served(client: FlaskClient) -> None:
    for path in ("/docs/assets/../__init__.py", "/docs/assets/index.html", "/docs/assets/x"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.mimetype == "application/problem+json"
