"""How a service's Flask app is made and served: the one way the three services are.

`service_app` wires what every service has (JSON in and out, every error a JSON body, the
service's own exceptions answered by its table of them, the callers' tokens, the order trail,
the routes, the API docs' assets); `service_routes` adds the three routes every service answers
(`/healthz`, `/openapi.json`, `/docs`); `serving` is what granian's factory calls. A service
hands in what is its own: its routes, its engine and dependencies, its errors, its API.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, current_app, jsonify
from sqlalchemy.engine import Engine

from glastonbury import api_docs, logs, tracing
from glastonbury.api_docs import install_api_docs
from glastonbury.auth import install_credentials
from glastonbury.openapi import Api
from glastonbury.process import tune_garbage_collector
from glastonbury.web import (ApiError, DecimalJSONProvider, api_error_response, database_health,
                             install_json_errors, install_order_trail)

ENGINE = "engine"   # the app's extension: the service's database
# A service's own exception, as the JSON error it is answered with.
ErrorAnswers = Mapping[type[Exception], Callable[[Any], ApiError]]
Served = TypeVar("Served")


def service_app(routes: Blueprint, extensions: Mapping[str, Any], *,
                engine: Engine | None = None, tokens: dict[str, str] | None = None,
                errors: ErrorAnswers | None = None, decimal_json: bool = True,
                public: Callable[[Any], bool] | None = None) -> Flask:
    """A service's app: its `routes`, its `extensions` (dependencies) for the views to read,
    its `engine` (`service_engine()` in a view), its exceptions answered as `errors` says, the
    callers' `tokens` (the environment's unless given). `decimal_json` reads numbers with a
    fraction as Decimal; `public` tells the views whose requests begin a trace of their own
    (glastonbury.web.install_order_trail)."""
    app = Flask(routes.import_name)
    app.url_map.merge_slashes = False  # "//" would redirect with an HTML body; 404 JSON instead
    if decimal_json:
        app.json = DecimalJSONProvider(app)
    install_json_errors(app)
    for kind, answer in (errors or {}).items():
        app.register_error_handler(kind, _answered_with(answer))
    install_credentials(app, tokens)
    install_order_trail(app, public)
    app.extensions.update(extensions)
    if engine is not None:
        app.extensions[ENGINE] = engine
    app.register_blueprint(routes)
    install_api_docs(app)
    return app


def _answered_with(answer: Callable[[Any], ApiError]) -> Callable[[Exception], Response]:
    return lambda error: api_error_response(answer(error))


def service_engine() -> Engine:
    """The database of the service whose request this is (`service_app(engine=...)`)."""
    engine: Engine = current_app.extensions[ENGINE]
    return engine


def service_routes(routes: Blueprint, api: Api, engine: Callable[[], Engine] = service_engine,
                   document_view: str = "openapi") -> None:
    """The routes every service answers, on `routes`: `GET /healthz` (200 while `engine()`
    answers, else 503), `GET /openapi.json` (`api`'s document, its view named `document_view`)
    and `GET /docs` (that document as a page)."""

    def healthz() -> Response:
        """200 while the database answers, else 503."""
        return jsonify(database_health(engine()))

    def document() -> Response:
        """This service's OpenAPI 3.1 document."""
        return jsonify(api.document(routes))

    def docs() -> Response:
        """This service's OpenAPI document as a page (Swagger UI, served from here)."""
        return api_docs.page(api.title)

    routes.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    routes.add_url_rule("/openapi.json", document_view, document, methods=["GET"])
    routes.add_url_rule("/docs", "docs", docs, methods=["GET"])


def serving(part: str, make: Callable[[], Served]) -> Served:
    """What the HTTP server runs (`granian --factory ...:serve`): `part`'s logs and traces
    configured first, then the app made, then the garbage collector tuned (all that exists
    by then lives as long as the process)."""
    logs.configure(part)
    tracing.configure(part)
    served = make()
    tune_garbage_collector()
    return served
