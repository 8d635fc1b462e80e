"""How the parts call one another over HTTP: one client, the service's URL used as given.

A service is called at its base URL as configured (`INVENTORY_SERVICE_URL`, ...): its scheme
(`https` speaks TLS, checking the server's certificate against the system's authorities, or
those of `SERVICE_CA_BUNDLE`), host, port and base path (`https://inventory.example.com/api`
asks `https://inventory.example.com:443/api/tickets`). A URL of another scheme is refused when
the client is made, not discovered at the first call.

Calls go through `http.client` on a connection kept alive per thread and process (a fifth of
the client CPU of `requests`, measured in bench/README.md); a kept-alive connection the server
closed meanwhile is tried once more afresh, so only idempotent calls belong here (every call
between the parts is). With tracing on, each call is a span and carries its `traceparent`.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import threading
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlencode, urlsplit

from glastonbury import settings, tracing

# Network failures worth one more try on a fresh connection (the server may have closed a
# kept-alive one); every other OSError (refused, time-out, a certificate refused) is final.
STALE_CONNECTION = (http.client.RemoteDisconnected, http.client.BadStatusLine,
                    BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class Unreachable(Exception):
    """The service could not be asked: refused, timed out, closed, or its certificate refused."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        """The body as JSON; None when it is empty or not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


class ServiceHttp:
    """One service at its base URL, on a kept-alive connection per thread and process."""

    def __init__(self, base_url: str, timeout_s: float, headers: dict[str, str] | None = None,
                 ca_bundle: str | None = None):
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{base_url!r} is no service URL: http:// or https://, then a host")
        self.base = base_url.strip().rstrip("/")
        self.secure = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.secure else 80)
        self.prefix = parts.path.rstrip("/")
        self.timeout_s = timeout_s
        self.headers = headers or {}
        bundle = settings.service_ca_bundle() if ca_bundle is None else ca_bundle
        self.tls = tls_context(bundle) if self.secure else None
        self._local = threading.local()

    def request(self, method: str, path: str, body: Any = None,
                query: dict[str, Any] | None = None) -> Reply:
        """One call (`body` sent as JSON when given); Unreachable if it could not be made."""
        if tracing.enabled:  # tracing off: this one check, no span, no header
            with tracing.http_call(method, self.base, path) as traced:
                reply = self._request(method, path, body, query, traced.headers)
                traced.answered(reply.status)
                return reply
        return self._request(method, path, body, query, {})

    def _request(self, method: str, path: str, body: Any, query: dict[str, Any] | None,
                 trace_headers: dict[str, str]) -> Reply:
        target = self.prefix + path + (f"?{urlencode(query, doseq=True)}" if query else "")
        payload = None if body is None else json.dumps(body).encode()
        headers = {**self.headers, **trace_headers,
                   **({"Content-Type": "application/json"} if payload is not None else {})}
        what = f"{method} {self.base}{path}"
        for attempt in (1, 2):
            connection = self._connection(fresh=attempt == 2)
            try:
                connection.request(method, target, body=payload, headers=headers)
                response = connection.getresponse()
                return Reply(response.status, response.read())
            except STALE_CONNECTION as error:
                connection.close()
                if attempt == 2:
                    raise Unreachable(f"{what}: {type(error).__name__}") from None
            except (OSError, http.client.HTTPException) as error:  # refused, time-out, TLS
                connection.close()
                raise Unreachable(f"{what}: {type(error).__name__}: {error}") from None
        raise AssertionError("unreachable")  # the loop returns or raises

    def _connection(self, fresh: bool) -> http.client.HTTPConnection:
        # A forked worker process must not share its parent's sockets.
        if getattr(self._local, "pid", None) != os.getpid() or fresh:
            if self.tls is not None:
                self._local.connection = http.client.HTTPSConnection(
                    self.host, self.port, timeout=self.timeout_s, context=self.tls)
            else:
                self._local.connection = http.client.HTTPConnection(self.host, self.port,
                                                                    timeout=self.timeout_s)
            self._local.pid = os.getpid()
        return self._local.connection  # type: ignore[no-any-return]


@cache
def tls_context(ca_bundle: str) -> ssl.SSLContext:
    """The client's TLS: the server's certificate checked against `ca_bundle` (a PEM file of
    authorities), or the system's when it is empty; its name checked against the URL's host."""
    return ssl.create_default_context(cafile=ca_bundle or None)
