"""Each service's page that renders its OpenAPI document, loaded over HTTP as a browser would:
every file it needs comes from the service itself (no network, no other origin)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from glastonbury.api_docs import ASSETS_DIR
from tests.integration.test_openapi_fuzz import DOCUMENTS, service_app

CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


@pytest.fixture(scope="module", params=sorted(DOCUMENTS))
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[str]:
    """A service's app on a real HTTP server on this machine: its base URL."""
    database = tmp_path_factory.mktemp(request.param) / "service.db"
    with service_app(request.param, f"sqlite:///{database}") as app:
        yield from _serving(app)


def _serving(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def references(page: str) -> list[str]:
    """Every URL the page's HTML loads (scripts, styles, icons)."""
    return re.findall(r'(?:src|href)="([^"]+)"', page)


def test_the_docs_page_loads_every_file_it_needs_from_its_own_service(served: str) -> None:
    page = requests.get(f"{served}/docs", timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    loaded = references(page.text)
    assert {Path(url).name for url in loaded} == {
        "swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "favicon-16x16.png"}
    for url in loaded:
        assert not urlsplit(url).scheme and not url.startswith("/"), url   # relative: any prefix
        asset = requests.get(urljoin(f"{served}/docs", url), timeout=10)
        assert asset.status_code == 200, url
        assert asset.headers["Content-Type"].startswith(CONTENT_TYPES[Path(url).suffix]), url
        assert asset.content == (ASSETS_DIR / Path(url).name).read_bytes()
    assert '"openapi.json"' in page.text
    assert requests.get(urljoin(f"{served}/docs", "openapi.json"), timeout=10).json()["paths"]


@pytest.mark.parametrize("name", ["oauth2-redirect.html", "index.html", "LICENSE", "..%2Fsetup.cfg",
                                  "swagger-ui.js.map"])
def test_nothing_but_the_pages_own_assets_is_served(served: str, name: str) -> None:
    response = requests.get(f"{served}/docs/assets/{name}", timeout=10)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_the_page_is_public_and_declared_in_the_document(served: str) -> None:
    document = requests.get(f"{served}/openapi.json", timeout=10).json()
    operation = document["paths"]["/docs"]["get"]
    assert "security" not in operation
    assert list(operation["responses"]["200"]["content"]) == ["text/html"]
    assert requests.get(f"{served}/docs", timeout=10, headers={}).status_code == 200
