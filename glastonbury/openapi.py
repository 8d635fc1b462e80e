"""Each service's OpenAPI 3.1 document, generated from its routes and its pydantic models.

A service declares each route's operation once, in a table by view name (`Operation`: a summary,
the models of its body, query and headers, its answers and its own errors). The path, the method,
the operationId and who may call it (`glastonbury.auth.requires`) are read from the routes; every
schema is pydantic's JSON schema of the models themselves: those the routes validate with
(`glastonbury.web.validated`) and those that build the answers. Written once, here: the `Error`
body of `glastonbury.web`'s JSON errors, the errors a JSON body, a path id, a query, a header or a
missing credential cause, and the document around them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from flask import Blueprint, Flask
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from glastonbury.auth import ADMIN, ORCHESTRATOR, callers_of
from glastonbury.contracts import errors as codes
from glastonbury.json_schema import DocumentedJsonSchema, Schema

OPENAPI_VERSION = "3.1.0"
REF_TEMPLATE = "#/components/schemas/{model}"

# The answers of `glastonbury.web.json_object()` and `validated()`, and of the 64 KiB limit.
BODY_ERRORS: dict[int, str] = {
    400: f"The body is not valid JSON (`{codes.MALFORMED_JSON}`).",
    413: f"The body is over 64 KiB (`{codes.REQUEST_ENTITY_TOO_LARGE}`).",
    415: f"The body is not sent as application/json (`{codes.UNSUPPORTED_MEDIA_TYPE}`).",
    422: f"The body does not fit the schema (`{codes.VALIDATION_FAILED}`); `details` names each "
         "field.",
}
PARAMETER_ERROR = (f"A parameter does not fit its schema (`{codes.VALIDATION_FAILED}`); "
                   "`details` names it.")

class Health(BaseModel):
    """`GET /healthz` while all is well."""

    status: Literal["ok"]


@dataclass(frozen=True)
class Link:
    """An operation an answer leads to (OpenAPI's `links`), by its view's name, and where each of
    its parameters comes from (`$request.path.orderId`, `$response.body#/orderId`): what a
    client, or a fuzzer's stateful phase, may call next on what it just made."""

    view: str
    parameters: Mapping[str, str]


@dataclass(frozen=True)
class Answer:
    """A success answer: what it means, its body's model (or, where no model builds the body, a
    schema written here), its headers, each with what it says, and the operations it links to."""

    description: str
    model: type[BaseModel] | None = None
    schema: Schema | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    media_type: str = "application/json"
    links: Mapping[str, Link] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    """What a route's document says that the route itself does not: its summary, the models it
    validates its body, query and headers with, its answers, and the errors of its own (status:
    what they mean; the body is an `Error`). `parameters` are written by hand, for a route that
    reads them without a model."""

    summary: str
    answers: Mapping[int, Answer]
    errors: Mapping[int, str] = field(default_factory=dict)
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    headers: type[BaseModel] | None = None
    parameters: Sequence[Schema] = ()


@dataclass(frozen=True)
class PathId:
    """A part of the path (`<order_id>`, documented as `orderId`): its type as the route parses
    it; a malformed one is a 400 `malformed_id`."""

    type: Any
    description: str = ""


# Each caller's credential (glastonbury.auth), a scheme of its own, so that the document says
# which token each operation takes, and a client (Swagger UI's Authorize, schemathesis'
# `[auth.openapi.<caller>]`) sends the right one.
SECURITY_SCHEMES = {
    caller: {"type": "http", "scheme": "bearer",
             "description": f"`Authorization: Bearer <{setting}>`: the {caller}'s token."}
    for caller, setting in ((ORCHESTRATOR, "ORCHESTRATOR_TOKEN"), (ADMIN, "ADMIN_TOKEN"))}

# Every service's `GET /healthz` (glastonbury.web.database_health).
HEALTH = Operation("Whether the service and its database answer",
                   answers={200: Answer("Healthy.", Health)},
                   errors={503: "The database does not answer; retry later "
                                f"(`{codes.UNAVAILABLE}`)."})
THIS_DOCUMENT = Operation("This document", answers={
    200: Answer("The OpenAPI 3.1 document.", schema={"type": "object"})})
# Every service's `GET /docs` (glastonbury.api_docs).
DOCS_PAGE = Operation("This document as a page to read and try (Swagger UI)", answers={
    200: Answer("An HTML page rendering `openapi.json`; its scripts and styles come from "
                "`docs/assets/` beside it, nothing from elsewhere.",
                schema={"type": "string"}, media_type="text/html")})


def error_schema(**detail_properties: Schema) -> Schema:
    """The `Error` body; a service adds the extra fields its `details` entries may carry."""
    return {
        "type": "object",
        "required": ["error", "message", "details"],
        "properties": {
            "error": {"type": "string",
                      "description": f"A stable code, e.g. `{codes.VALIDATION_FAILED}`."},
            "message": {"type": "string"},
            "details": {"type": "array", "items": {
                "type": "object",
                "required": ["field", "problem"],
                "properties": {
                    "field": {"type": "string", "examples": ["items[0].quantity"]},
                    "problem": {"type": "string"},
                    **detail_properties,
                },
            }},
        },
    }


@dataclass(frozen=True, eq=False)  # eq=False: hashed by identity, so its document is cached
class Api:
    """A service's API: its title, what it does, the operation of each route (by its view's
    name), the ids its paths carry (by their documented name) and its `Error` schema."""

    title: str
    description: str
    operations: Mapping[str, Operation]
    path_ids: Mapping[str, PathId] = field(default_factory=dict)
    error: Schema = field(default_factory=error_schema)

    def document(self, routes: Blueprint) -> Schema:
        """The OpenAPI 3.1 document of the routes of `routes` (built once)."""
        return _document(self, routes)


@dataclass(frozen=True)
class _Route:
    path: str           # as OpenAPI writes it: /orders/{orderId}
    method: str
    view: str           # the view function's name
    callers: tuple[str, ...]
    path_ids: tuple[str, ...]


def _routes(routes: Blueprint) -> list[_Route]:
    app = Flask(routes.import_name)   # routed, never served: only its URL map is read
    app.register_blueprint(routes)
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        ids = tuple(_camel(name) for name in rule.arguments)
        path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", _documented_part, rule.rule)
        view = app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append(_Route(path, method.lower(), rule.endpoint.rpartition(".")[2],
                                callers_of(view), ids))
    return found


def _documented_part(part: re.Match[str]) -> str:
    return "{" + _camel(part[1]) + "}"


def _camel(name: str) -> str:
    """`order_id` as `orderId`."""
    return re.sub(r"_([a-z])", lambda letter: letter[1].upper(), name)


@cache
def _document(api: Api, routes: Blueprint) -> Schema:
    routed = _routes(routes)
    undeclared = {route.view for route in routed} ^ set(api.operations)
    if undeclared:
        raise LookupError(f"{api.title}: routes and declared operations differ: {undeclared}")
    components = _Components()
    paths: dict[str, Schema] = {}
    for route in routed:
        paths.setdefault(route.path, {})[route.method] = _operation(
            api, route, api.operations[route.view], components)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": api.title, "version": "1.0.0", "description": api.description},
        "paths": paths,
        "components": {"schemas": components.schemas({"Error": api.error}),
                       "securitySchemes": SECURITY_SCHEMES},
    }


class _Components:
    """The schemas the operations refer to, each a model's own, gathered under its name."""

    def __init__(self) -> None:
        self._schemas: dict[str, Schema] = {}

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode) -> Schema:
        """A reference to `model`'s schema (as a body is validated, or as an answer is built)."""
        refs, top = models_json_schema([(model, mode)], by_alias=True, ref_template=REF_TEMPLATE,
                                       schema_generator=DocumentedJsonSchema)
        self._add(top.get("$defs", {}))
        return refs[(model, mode)]

    def properties(self, model: type[BaseModel]) -> tuple[Schema, set[str]]:
        """`model`'s properties (validation) and the names of those required."""
        schema = model.model_json_schema(by_alias=True, ref_template=REF_TEMPLATE,
                                         schema_generator=DocumentedJsonSchema)
        self._add(schema.get("$defs", {}))
        return schema["properties"], set(schema.get("required", ()))

    def _add(self, schemas: Mapping[str, Schema]) -> None:
        for name, schema in schemas.items():
            if self._schemas.setdefault(name, schema) != schema:
                raise ValueError(f"two different schemas are named {name}")

    def schemas(self, own: Mapping[str, Schema]) -> dict[str, Schema]:
        """Every schema gathered, and the document's own (`Error`)."""
        for name in own.keys() & self._schemas.keys():
            raise ValueError(f"a model is named {name}, as the document's own schema")
        return {**own, **self._schemas}


def _operation(api: Api, route: _Route, operation: Operation,
               components: _Components) -> Schema:
    document: Schema = {"operationId": _camel(route.view), "summary": operation.summary}
    if route.callers:
        document["description"] = f"Needs the credential of the {' or '.join(route.callers)}."
        # Any one of them: each caller's token is a scheme of its own.
        document["security"] = [{caller: []} for caller in route.callers]
    if parameters := _parameters(api, route, operation, components):
        document["parameters"] = parameters
    if operation.body:
        document["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": components.ref(operation.body, "validation")}}}
    document["responses"] = _responses(api, route, operation, components)
    return document


def _parameters(api: Api, route: _Route, operation: Operation,
                components: _Components) -> list[Schema]:
    parameters = [_path_parameter(name, api.path_ids[name]) for name in route.path_ids]
    for model, where in ((operation.query, "query"), (operation.headers, "header")):
        if model:
            properties, required = components.properties(model)
            parameters += [_parameter(name, where, name in required, schema)
                           for name, schema in properties.items()]
    return [*parameters, *operation.parameters]


def _responses(api: Api, route: _Route, operation: Operation,
               components: _Components) -> Schema:
    answers = {str(status): _answer(api, answer, components)
               for status, answer in operation.answers.items()}
    errors = {str(status): _content({"$ref": REF_TEMPLATE.format(model="Error")},
                                    " ".join(texts))
              for status, texts in sorted(_error_causes(route, operation).items())}
    if clash := answers.keys() & errors.keys():
        raise ValueError(f"{route.method} {route.path}: {clash} both an answer and an error")
    return {**answers, **errors}


def _error_causes(route: _Route, operation: Operation) -> dict[int, list[str]]:
    """What each error status of the operation means: the errors of its own, and those its path
    ids, body, parameters and credential may cause."""
    causes: dict[int, list[str]] = defaultdict(list)
    for name in route.path_ids:
        causes[400].append(f"`{name}` is not a well-formed id (`{codes.MALFORMED_ID}`).")
    for status, text in BODY_ERRORS.items() if operation.body else ():
        causes[status].append(text)
    if operation.query or operation.headers:
        causes[422].append(PARAMETER_ERROR)
    for status, text in operation.errors.items():
        causes[status].append(text)
    if route.callers:
        causes[401].append(f"No credential, or not one this call accepts (`{codes.UNAUTHORIZED}`).")
    return causes


def _content(schema: Schema, description: str, media_type: str = "application/json") -> Schema:
    return {"description": description, "content": {media_type: {"schema": schema}}}


def _answer(api: Api, answer: Answer, components: _Components) -> Schema:
    if answer.model is not None:
        schema = components.ref(answer.model, "serialization")
    elif answer.schema is not None:
        schema = answer.schema
    else:
        raise ValueError(f"the answer {answer.description!r} has neither a model nor a schema")
    document = _content(schema, answer.description, answer.media_type)
    if answer.headers:
        document["headers"] = {name: {"description": text, "schema": {"type": "string"}}
                               for name, text in answer.headers.items()}
    if answer.links:
        if unknown := {link.view for link in answer.links.values()} - set(api.operations):
            raise LookupError(f"{api.title}: links to undeclared operations {unknown}")
        document["links"] = {name: {"operationId": _camel(link.view),
                                    "parameters": dict(link.parameters)}
                             for name, link in answer.links.items()}
    return document


def _path_parameter(name: str, path_id: PathId) -> Schema:
    schema = TypeAdapter(path_id.type).json_schema(ref_template=REF_TEMPLATE,
                                                   schema_generator=DocumentedJsonSchema)
    parameter = {"name": name, "in": "path", "required": True, "schema": schema}
    return {**parameter, "description": path_id.description} if path_id.description else parameter


def _parameter(name: str, where: str, required: bool, schema: Schema) -> Schema:
    # A parameter is absent or text, never null: an optional field's `None` is its absence.
    schema = dict(schema)
    description = schema.pop("description", None)
    if "default" in schema and schema["default"] is None:
        del schema["default"]
    if "anyOf" in schema:
        options = [option for option in schema.pop("anyOf") if option != {"type": "null"}]
        schema = {**options[0], **schema} if len(options) == 1 else {**schema, "anyOf": options}
    # A deprecated field (`json_schema_extra={"deprecated": True}`) is a deprecated parameter.
    deprecated = {"deprecated": True} if schema.pop("deprecated", False) else {}
    parameter = {"name": name, "in": where, "required": required, "schema": schema, **deprecated}
    return {**parameter, "description": description} if description else parameter
