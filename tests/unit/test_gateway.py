"""glastonbury.gateway with a fake RSGI request: a body is read whole, within its limits, before
the WSGI app runs; the environ is the one the app had under granian's WSGI interface."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from glastonbury.gateway import BodyRefused, WsgiGateway, wsgi_environ

LIMIT = 64 * 1024


class Scope:
    proto, http_version, scheme = "http", "1.1", "http"
    server, client = "127.0.0.1:8080", "10.1.2.3:51234"

    def __init__(self, method: str = "POST", path: str = "/orders", query: str = "",
                 headers: dict[str, str] | None = None):
        self.method, self.path, self.query_string = method, path, query
        self.headers = headers or {}


class Request:
    """A fake RSGI protocol: its body comes in `chunks`, or never (`hold`)."""

    def __init__(self, *chunks: bytes, hold: bool = False):
        self.chunks, self.hold, self.answers = chunks, hold, []

    async def __call__(self) -> bytes:
        if self.hold:
            await asyncio.Event().wait()
        return b"".join(self.chunks)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.hold:
            await asyncio.Event().wait()

    def response_bytes(self, status: int, headers: list, body: bytes) -> None:
        self.answers.append((status, dict(headers), body))


def echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("201 CREATED", [("Content-Type", "application/json")])
    return [environ["wsgi.input"].read()]


def gateway(app: Any = echo, timeout_s: float = 5.0) -> WsgiGateway:
    served = WsgiGateway(app, threads=2, max_body_bytes=LIMIT, body_read_timeout_s=timeout_s)
    served.__rsgi_init__(asyncio.new_event_loop())
    return served


def serve(served: WsgiGateway, scope: Scope, request: Request) -> tuple[int, dict, bytes]:
    asyncio.run(served.__rsgi__(scope, request))
    (answer,) = request.answers
    return answer


def test_a_body_is_read_whole_before_the_app_runs_and_the_app_answers() -> None:
    body = b'{"items": []}'
    scope = Scope(headers={"content-length": str(len(body)), "content-type": "application/json"})
    status, headers, content = serve(gateway(), scope, Request(body[:5], body[5:]))
    assert (status, headers["Content-Type"], content) == (201, "application/json", body)


def test_a_chunked_body_is_read_whole_too() -> None:
    scope = Scope(headers={"transfer-encoding": "chunked"})
    assert serve(gateway(), scope, Request(b"ab", b"cd"))[2] == b"abcd"


def test_a_body_that_does_not_arrive_in_time_is_answered_408_in_json() -> None:
    scope = Scope(headers={"content-length": "500"})
    status, headers, content = serve(gateway(timeout_s=0.05), scope, Request(hold=True))
    assert status == 408 and headers["connection"] == "close"
    assert json.loads(content) == {"error": "request_timeout", "details": [],
                                   "message": "The body did not arrive within 0.05 seconds."}


@pytest.mark.parametrize("headers, chunks", [
    ({"content-length": str(LIMIT + 1)}, ()),   # refused before any byte is read
    ({"transfer-encoding": "chunked"}, (b"x" * LIMIT, b"x")),
])
def test_a_body_over_64_kib_is_answered_413_as_the_services_do(headers: dict,
                                                               chunks: tuple) -> None:
    status, _, content = serve(gateway(), Scope(headers=headers), Request(*chunks, hold=True))
    assert status == 413 and json.loads(content)["error"] == "request_entity_too_large"


def test_a_request_without_a_body_reads_none() -> None:
    assert serve(gateway(), Scope("GET"), Request(hold=True))[0] == 201


def test_an_app_that_fails_is_answered_500_in_json() -> None:
    def failing(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise RuntimeError("a bug")

    status, _, content = serve(gateway(failing), Scope("GET"), Request())
    assert status == 500 and json.loads(content)["error"] == "internal_error"


def test_the_environ_is_the_one_granians_wsgi_interface_gives() -> None:
    scope = Scope("GET", "/orders/caf\u00e9", "wait=5",
                  {"host": "shop", "content-type": "application/json", "content-length": "0",
                   "x-forwarded-for": "1.2.3.4"})
    environ = wsgi_environ(scope, b"")
    assert {key: environ[key] for key in (
        "REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "REMOTE_ADDR", "SERVER_NAME",
        "SERVER_PORT", "SERVER_PROTOCOL", "CONTENT_TYPE", "CONTENT_LENGTH", "HTTP_HOST",
        "HTTP_X_FORWARDED_FOR")} == {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/orders/caf\u00c3\u00a9", "QUERY_STRING": "wait=5",
        "REMOTE_ADDR": "10.1.2.3", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": "0", "HTTP_HOST": "shop", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}


def test_a_refusal_closes_the_connection_so_its_unread_body_is_never_a_next_request() -> None:
    assert ("connection", "close") in BodyRefused(408, "request_timeout", "late").answer[1]
