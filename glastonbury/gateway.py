"""A WSGI app (Flask) served through granian's RSGI interface: each request's body is read whole
on the event loop, within a size and a time limit, before a thread is taken to run the app.

granian's own WSGI interface hands each request to one of its threads at once, and the app then
reads the body from there, blocking, without a time limit (granian has no option for one): 24
clients that sent the headers of `POST /orders` and then held the body took all 20 threads of
the order service, which answered nobody, `/healthz` included, until they let go. Here a body
that does not come holds a coroutine, not a thread, and is answered 408 when its time is up; one
over the size limit is answered 413 before it is read.

Run it with `granian --interface rsgi --factory module:factory`, the factory returning a
`WsgiGateway` (RSGI: granian's native interface, one call for the whole body and one for the
answer, where ASGI would pass a message dict for each).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from glastonbury.contracts import errors as codes

log = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Answer = tuple[int, list[tuple[str, str]], bytes]
JSON = "application/json"


class BodyRefused(Exception):
    """A request answered without running the app: its body is too large, or too slow."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        # The connection closes after it: its unread body must not be taken for a next request.
        self.answer: Answer = json_error(status, code, message, [("connection", "close")])


class WsgiGateway:
    """The RSGI app granian runs: reads each body on the loop, then runs the WSGI app on one of
    `threads` threads (a long-poll holds one as long as it waits, as under granian's WSGI)."""

    def __init__(self, app: WsgiApp, threads: int, max_body_bytes: int,
                 body_read_timeout_s: float):
        self.app, self.threads = app, threads
        self.max_body_bytes, self.body_read_timeout_s = max_body_bytes, body_read_timeout_s
        self._pool: ThreadPoolExecutor | None = None

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="request")

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto != "http":   # no websockets here (granian runs it with --no-ws)
            return
        try:
            body = await self.read_body(scope, protocol)
        except BodyRefused as refused:
            protocol.response_bytes(*refused.answer)
            return
        except ConnectionError:   # the client left before its body was in
            return
        # The thread answers itself: the answer leaves without waiting for the loop to be free.
        await asyncio.get_running_loop().run_in_executor(
            self._pool, self.answer, protocol, wsgi_environ(scope, body))

    def answer(self, protocol: Any, environ: dict[str, Any]) -> None:
        protocol.response_bytes(*self.run(environ))

    async def read_body(self, scope: Any, protocol: Any) -> bytes:
        """The whole body, or BodyRefused: 413 over `max_body_bytes`, 408 after the time limit."""
        length = scope.headers.get("content-length")
        chunked = "transfer-encoding" in scope.headers or scope.http_version == "2"
        if length is None and not chunked:
            return b""   # an HTTP/1 request with neither header has no body (RFC 9112, 6.3)
        if length is not None and int(length) > self.max_body_bytes:
            raise too_large(self.max_body_bytes)
        try:
            async with asyncio.timeout(self.body_read_timeout_s):
                return await (protocol() if length is not None else self._chunks(protocol))
        except TimeoutError:
            raise BodyRefused(408, codes.REQUEST_TIMEOUT, f"The body did not arrive within "
                              f"{self.body_read_timeout_s:g} seconds.") from None
        except RuntimeError as error:   # granian's RSGIProtocolClosed and RSGIProtocolError
            raise ConnectionError(str(error)) from None

    async def _chunks(self, protocol: Any) -> bytes:
        body = bytearray()
        async for chunk in protocol:
            body += chunk
            if len(body) > self.max_body_bytes:
                raise too_large(self.max_body_bytes)
        return bytes(body)

    def run(self, environ: dict[str, Any]) -> Answer:
        """The app's answer to one request, its body collected (the services answer small JSON)."""
        started: list[Any] = []
        try:
            chunks = self.app(environ, lambda status, headers, exc_info=None: started.extend(
                (int(status.split(" ", 1)[0]), headers)))
            try:
                content = b"".join(chunks)
            finally:
                getattr(chunks, "close", lambda: None)()
        except Exception:   # Flask answers its own errors: this is a bug in the gateway or app
            log.exception("the app failed on %s %s", environ["REQUEST_METHOD"],
                          environ["PATH_INFO"])
            return json_error(500, codes.INTERNAL_ERROR, "The server failed; the error is logged.")
        status, headers = started
        return status, headers, content


def too_large(limit: int) -> BodyRefused:
    return BodyRefused(413, codes.REQUEST_ENTITY_TOO_LARGE,
                       f"The body is over {limit // 1024} KiB.")


def json_error(status: int, code: str, message: str,
               headers: list[tuple[str, str]] | None = None) -> Answer:
    """An error in the services' shape (glastonbury.web), answered without the app."""
    body = json.dumps({"error": code, "message": message, "details": []},
                      separators=(",", ":"), sort_keys=True).encode()   # as Flask writes JSON
    return status, [("content-type", JSON), *(headers or [])], body


def wsgi_environ(scope: Any, body: bytes) -> dict[str, Any]:
    """PEP 3333's environ of an RSGI request, as granian's WSGI interface builds it."""
    server_name, _, server_port = scope.server.rpartition(":")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope.method,
        "SCRIPT_NAME": "",
        # WSGI's native strings: the decoded path's bytes, one character each
        "PATH_INFO": scope.path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.query_string,
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port,
        "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
        "REMOTE_ADDR": scope.client.rpartition(":")[0].strip("[]"),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in scope.headers.items():
        if name == "content-type":
            environ["CONTENT_TYPE"] = value
        elif name == "content-length":
            environ["CONTENT_LENGTH"] = value
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
            environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ
