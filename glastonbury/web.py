"""What every Flask service shares at its edge: JSON errors, JSON bodies, validation errors.

Every error a client can see is `{"error": code, "message": text, "details": [...]}` with a 4xx
status; a 5xx is a bug. `details` names each offending field (`items[0].quantity`) and the problem.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from decimal import Decimal
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, jsonify, request
from flask.json.provider import DefaultJSONProvider
from pydantic import BaseModel, GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationError
from pydantic_core import CoreSchema, PydanticCustomError, core_schema
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import (DisconnectionError, InterfaceError, OperationalError,
                            SQLAlchemyError)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import BadRequest, HTTPException

from glastonbury import settings, tracing
from glastonbury.contracts import errors as codes
from glastonbury.contracts.ids import canonical_uuid
from glastonbury.client_address import FORWARDED_FOR, Network, client_address, trusted_networks
from glastonbury.db import reading
from glastonbury.logs import set_order

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
DATABASE_RETRY_AFTER_S = 1   # a restarting database is back within seconds
DATABASE_DOWN = "The database does not answer; try again."
# Text every database stores: PostgreSQL refuses NUL (the OpenAPI documents say it so).
TEXT_PATTERN = r"^[^\u0000]*$"
Model = TypeVar("Model", bound=BaseModel)


class ApiError(Exception):
    """An error answered to the client as JSON with the given status."""

    def __init__(self, status: int, code: str, message: str, details: list | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or []
        self.headers = headers or {}


def path_uuid(value: str, field: str) -> uuid.UUID:
    """A path's (or a query's) id as a UUID (glastonbury.contracts.ids: the 8-4-4-4-12 form), or
    a 400 `malformed_id` naming the field."""
    try:
        return canonical_uuid(value)
    except ValueError:
        raise ApiError(400, codes.MALFORMED_ID, f"{field} must be a UUID, not {value!r}.",
                       [{"field": field, "problem": "must be a UUID"}]) from None


def error_response(status: int, code: str, message: str, details: list | None = None) -> Response:
    response = jsonify({"error": code, "message": message, "details": details or []})
    response.status_code = status
    return response


def api_error_response(error: ApiError) -> Response:
    """The JSON answer of an ApiError, its headers included."""
    response = error_response(error.status, error.code, error.message, error.details)
    response.headers.update(error.headers)
    return response


def database_health(engine: Engine) -> dict[str, str]:
    """Every service's `GET /healthz` answer: `{"status": "ok"}` when its database answers, else
    ApiError 503 `unavailable`. The check reads only, so on SQLite it takes no write lock."""
    try:
        with reading(engine) as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        raise ApiError(503, codes.UNAVAILABLE, DATABASE_DOWN) from None
    return {"status": "ok"}


def install_json_errors(app: Flask) -> None:
    """Answer every error, Flask's own included, as a JSON body; never leak a traceback."""
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return api_error_response(error)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        code = (error.name or "error").lower().replace(" ", "_")
        response = error_response(error.code or 500, code, error.description or error.name)
        if error.code == 405 and error.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(DisconnectionError)
    @app.errorhandler(PoolTimeout)
    def _database_unavailable(error: Exception) -> Response:
        # The database is down, restarting or out of connections: not a bug, and the same
        # request succeeds once it is back (a client retries after Retry-After).
        log.warning("database unavailable on %s %s: %s", request.method, request.path,
                    str(error).splitlines()[0])
        response = error_response(503, codes.UNAVAILABLE, DATABASE_DOWN)
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, codes.INTERNAL_ERROR, "The server failed; the error is logged.")


# Only a well-formed id names an order in the logs: a path is the client's text, and a newline
# in it would forge a log line.
ORDER_ID_IN_PATH = re.compile(r"^[0-9A-Fa-f-]{32,36}$")


def install_order_trail(app: Flask, public: Callable[[Any], bool] | None = None) -> None:
    """Every line logged while answering a request about an order (`/<...>/<order_id>...`)
    names the order (glastonbury.logs); with tracing on, each request is a span continuing the
    caller's trace (glastonbury.tracing), or, on a route whose view is `public`, beginning a
    trace of its own linked to the caller's."""

    @app.before_request
    def _about_the_order() -> None:
        order_id = (request.view_args or {}).get("order_id")
        set_order(order_id if order_id and ORDER_ID_IN_PATH.match(order_id) else None)

    @app.teardown_request
    def _done(_error: BaseException | None) -> None:
        set_order(None)

    # After the trail's own hooks: a request's span names the order the trail found.
    tracing.trace_requests(app, public)


def install_client_address(app: Flask, proxies: tuple[Network, ...] | None = None) -> None:
    """The proxies whose `X-Forwarded-For` this app believes (`TRUSTED_PROXIES` unless given);
    a malformed entry stops the app being made."""
    app.config["TRUSTED_PROXIES"] = (trusted_networks(settings.trusted_proxies())
                                     if proxies is None else proxies)


def request_client() -> str:
    """The address the request comes from, by glastonbury.client_address's one rule."""
    return client_address(request.remote_addr or "", request.headers.getlist(FORWARDED_FOR),
                          current_app.config.get("TRUSTED_PROXIES", ()))


def json_object() -> dict[str, Any]:
    """The request's body as a JSON object, or a 4xx saying why it is not one."""
    if not request.is_json:
        raise ApiError(415, codes.UNSUPPORTED_MEDIA_TYPE, "Send the body as application/json.")
    try:
        body = request.get_json()
    except (BadRequest, RecursionError):  # deeply nested brackets overflow the parser
        raise ApiError(400, codes.MALFORMED_JSON, "The body is not valid JSON.") from None
    if nesting(body) > MAX_NESTING:
        # Whether the parser overflows depends on the Python (3.13's does not): refused the same
        # way on every one, before anything reads it.
        raise ApiError(400, codes.MALFORMED_JSON,
                       f"The body nests deeper than {MAX_NESTING} levels.")
    if not isinstance(body, dict):  # `null` too: valid JSON, but not an object
        raise ApiError(422, codes.VALIDATION_FAILED, "The body must be a JSON object.",
                       [{"field": "(body)", "problem": "must be a JSON object"}])
    return body


# No body of these APIs nests more than four levels deep.
MAX_NESTING = 32


def nesting(value: Any) -> int:
    """How deep objects and arrays nest in a parsed JSON value (without recursion)."""
    deepest, level = 0, [(value, 1)]
    while level:
        item, depth = level.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_NESTING:
                return depth
            children = item.values() if isinstance(item, dict) else item
            level.extend((child, depth + 1) for child in children)
    return deepest


def validated(model: type[Model], body: dict[str, Any]) -> Model:
    """The body parsed into `model`, or a 422 naming each field and its problem."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        details = [{"field": field_path(e["loc"]), "problem": e["msg"]} for e in error.errors()]
        raise ApiError(422, codes.VALIDATION_FAILED, _summary(details), details) from None


class DecimalJSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading numbers with a fraction as Decimal and refusing NaN/Infinity."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return json.loads(s, parse_float=Decimal, parse_constant=_not_json, **kwargs)
        except RecursionError:
            raise ValueError("the JSON is nested too deeply") from None


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def json_number(value: Any) -> Any:
    # Pydantic would take True as 1 and "10.5" as a number; JSON booleans and strings are not.
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise PydanticCustomError("not_a_number", "must be a JSON number")
    if isinstance(value, float):
        return Decimal(str(value))
    return value


# Larger than any bound a count of these APIs has: a count beyond it is refused by its field's
# own bound just the same, without being built (`1e9999999` is ten million digits, seconds of
# CPU for pydantic to make into an int).
COUNT_CEILING = 10**18


def json_integer(value: Any) -> Any:
    """A JSON number with no fraction, as an int: `3`, and `3.0` or `3e0`, which JSON Schema
    counts as the integer 3 (so a client may send them, and the documents cannot refuse them);
    a JSON boolean or string is no number, and `3.5` no integer. One beyond COUNT_CEILING comes
    out as COUNT_CEILING + 1, with its sign, for the field's bound to refuse."""
    number = json_number(value)
    if isinstance(number, Decimal):
        if not number.is_finite() or number != number.to_integral_value():
            raise PydanticCustomError("not_an_integer", "must be a whole number")
    # Compared, not abs(): arithmetic on 1e9999999 overflows the decimal context.
    if number > COUNT_CEILING or number < -COUNT_CEILING:
        return COUNT_CEILING + 1 if number > 0 else -COUNT_CEILING - 1
    return int(number)


def storable_text(value: str) -> str:
    """`value` unchanged, or a pydantic error if a database could not store it.

    PostgreSQL cannot store NUL, and no database can store half of a surrogate pair.
    """
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "must not contain the NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("not_unicode", "must be valid Unicode text") from None
    return value


class StorableText:
    """Pydantic metadata for text a database stores: `storable_text` checks it, and the OpenAPI
    documents show what JSON Schema can say of that rule (no NUL) as TEXT_PATTERN."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler
                                     ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(storable_text, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler
                                     ) -> dict[str, Any]:
        return {**handler(schema), "pattern": TEXT_PATTERN}


STORABLE_TEXT = StorableText()


def field_path(location: tuple) -> str:
    """`("items", 0, "quantity")` as `items[0].quantity`."""
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(body)"


def _summary(details: list[dict[str, str]]) -> str:
    first = details[0]
    more = f" (and {len(details) - 1} more problems)" if len(details) > 1 else ""
    return f"{first['field']}: {first['problem']}{more}"
