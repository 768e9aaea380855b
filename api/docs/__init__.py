"""``/docs``: Swagger UI served by Tandem itself, from a pinned Python package, no CDN.

The page has no inline script or style, so its Content-Security-Policy can be ``'self'``:
the UI's assets come from ``swagger_ui_bundle`` (PyPI) under ``/docs/assets/``, and the
few lines that start it are served as ``/docs/assets/tandem-init.js``.
"""

from __future__ import annotations

import functools

from flask import Blueprint, Flask, Response, abort
from swagger_ui_bundle import swagger_ui_path

DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
ASSETS = frozenset(
    {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "favicon-32x32.png",
        "favicon-16x16.png",
    }
)
INIT_JS = """\
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout"
  });
});
"""
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tandem API: Swagger UI</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="/openapi.json"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
<script src="/docs/assets/tandem-init.js"></script>
</body>
</html>
"""

blp = Blueprint("docs", __name__)


def docs_page() -> Response:
    """The Swagger UI page."""
    return Response(PAGE, mimetype="text/html")


@blp.get("/docs/assets/<path:filename>")
def asset(filename: str) -> Response:
    """One Swagger UI asset (a fixed list), cached for a day."""
    if filename == "tandem-init.js":
        return Response(INIT_JS, mimetype="text/javascript")
    if filename not in ASSETS:
        abort(404)
    response = Response(_read(filename), mimetype=_MIMETYPES[filename.rsplit(".", 1)[1]])
    response.cache_control.max_age = 86400
    response.cache_control.public = True
    return response


_MIMETYPES = {"css": "text/css", "js": "text/javascript", "png": "image/png"}


@functools.cache
def _read(filename: str) -> bytes:
    # A few megabytes, read once per process: no file handle outlives the request.
    data: bytes = (swagger_ui_path / filename).read_bytes()
    return data


def register_docs(app: Flask) -> None:
    """Serve /docs from our own assets (flask-smorest's page would load them from a CDN)."""
    app.register_blueprint(blp)
    # Keep flask-smorest's /docs route (its endpoint name) but answer with our page.
    app.view_functions["api-docs.openapi_swagger_ui"] = docs_page
