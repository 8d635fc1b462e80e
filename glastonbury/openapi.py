"""What every service's OpenAPI 3.1 document shares: the error body, error answers, the skeleton.

Each service writes its own paths and schemas by hand; the `Error` schema of `glastonbury.web`'s
JSON errors, the descriptions of the body errors every JSON route can answer, and the document
around them are written once, here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OPENAPI_VERSION = "3.1.0"

# The answers of `glastonbury.web.json_object()` and `validated()`, and of the 64 KiB limit.
BODY_ERRORS: dict[int, str] = {
    400: "The body is not valid JSON (`malformed_json`).",
    413: "The body is over 64 KiB (`request_entity_too_large`).",
    415: "The body is not sent as application/json (`unsupported_media_type`).",
    422: "The body does not fit the schema (`validation_failed`); `details` names each field.",
}


def ref(name: str) -> dict[str, str]:
    """A reference to the component schema `name`."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_response(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A response (or request body) whose content is `schema` as application/json."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def json_body(schema_name: str) -> dict[str, Any]:
    """A required application/json request body of the component schema `schema_name`."""
    return {"required": True, "content": {"application/json": {"schema": ref(schema_name)}}}


def error_answer(description: str) -> dict[str, Any]:
    """A response whose body is an `Error`."""
    return json_response(ref("Error"), description)


def error_responses(descriptions: Mapping[int, str]) -> dict[str, Any]:
    """`{"404": <an Error answer described so>, ...}` for each status and its description."""
    return {str(status): error_answer(text) for status, text in descriptions.items()}


def error_schema(**detail_properties: dict[str, Any]) -> dict[str, Any]:
    """The `Error` body; a service adds the extra fields its `details` entries may carry."""
    return {
        "type": "object",
        "required": ["error", "message", "details"],
        "properties": {
            "error": {"type": "string", "description": "A stable code, e.g. `validation_failed`."},
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


def secured(operation: dict[str, Any], *callers: str) -> dict[str, Any]:
    """The operation, callable only with the credential of one of `callers` (glastonbury.auth)."""
    return {**operation, "security": [{"bearer": []}],
            "description": (operation.get("description", "") + " Needs the credential of the "
                            f"{' or '.join(callers)}.").strip(),
            "responses": {**operation["responses"], "401": error_answer(
                "No credential, or not one this call accepts (`unauthorized`).")}}


def this_document_operation() -> dict[str, Any]:
    """The `GET /openapi.json` operation every service has."""
    return {"summary": "This document", "operationId": "openapi",
            "responses": {"200": json_response({"type": "object"}, "The OpenAPI 3.1 document.")}}


def document(title: str, description: str, paths: dict[str, Any],
             schemas: dict[str, Any]) -> dict[str, Any]:
    """A service's whole OpenAPI 3.1 document; `Error` is added unless `schemas` has its own."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": "1.0.0", "description": description},
        "paths": {**paths, "/openapi.json": {"get": this_document_operation()}},
        "components": {"schemas": {"Error": error_schema(), **schemas},
                       "securitySchemes": {"bearer": {
                           "type": "http", "scheme": "bearer",
                           "description": "A service credential: `ORCHESTRATOR_TOKEN` or "
                                          "`ADMIN_TOKEN`, as each operation says."}}},
    }
