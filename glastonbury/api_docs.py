"""Each service's page that renders its OpenAPI document for a person: Swagger UI, at `GET /docs`.

Swagger UI's scripts and styles come from the `flask-swagger-ui` wheel, which ships Swagger UI's
own distribution (5.x: it reads OpenAPI 3.1; `swagger-ui-bundle` ships 4.15, which does not), and
the service serves them itself under `/docs/assets/`: the page works with no network and loads
nothing from elsewhere, which its Content-Security-Policy also holds it to. Only the wheel's
files are used, not its blueprint: the page is a route of each service's own, so its OpenAPI
document declares it (`glastonbury.openapi.DOCS_PAGE`); the assets are files, like Flask's
static ones, and stay out of it.

Every URL in the page is relative (`docs/assets/...`, `openapi.json`), so it works behind a
proxy that serves the service under a path of its own.
"""

from __future__ import annotations

import base64
import hashlib
import html
from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Flask, Response, abort, send_from_directory

ASSETS_DIR = Path(flask_swagger_ui.__file__).parent / "dist"
# What the page loads, and all that is served: not the distribution's OAuth2 redirect page (this
# API has no OAuth2), nor its own index.
ASSETS = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png",
                    "favicon-16x16.png"})
# The assets change only with the pinned wheel: a browser keeps them a day.
ASSETS_MAX_AGE_S = 24 * 3600

# Swagger UI's own layout without its top bar (a box to load any other document); the online
# validator is Swagger UI's default, and would send the document away: off.
START = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"
  });
};"""
START_HASH = base64.b64encode(hashlib.sha256(START.encode()).digest()).decode()
# The page's own origin only; Swagger UI draws its icons from data: URIs and styles elements
# inline.
POLICY = ("default-src 'none'; "
          f"script-src 'self' 'sha256-{START_HASH}'; style-src 'self' 'unsafe-inline'; "
          "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
          "frame-ancestors 'none'")

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}</title>
  <link rel="stylesheet" href="docs/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png" sizes="32x32">
  <link rel="icon" type="image/png" href="docs/assets/favicon-16x16.png" sizes="16x16">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/assets/swagger-ui-bundle.js"></script>
  <script>{start}</script>
</body>
</html>
"""

assets = Blueprint("api_docs", __name__)
# The routes of a service's app that serve files, not operations: its document leaves them out.
FILE_ENDPOINTS = frozenset({"static", "api_docs.asset"})


def page(title: str) -> Response:
    """The page that renders the service's `openapi.json`."""
    response = Response(PAGE.format(title=html.escape(title), start=START),
                        content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@assets.get("/docs/assets/<name>")
def asset(name: str) -> Response:
    """One of Swagger UI's files the page loads; 404 (JSON) for anything else."""
    if name not in ASSETS:
        abort(404)
    response = send_from_directory(ASSETS_DIR, name, max_age=ASSETS_MAX_AGE_S)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def install_api_docs(app: Flask) -> None:
    """Serve the assets of the page each service's own `GET /docs` route answers with `page`."""
    app.register_blueprint(assets)
