"""One login in front of every path of the dashboard, Flower's own pages included.

Flower 2.2 checks its `--basic-auth` only in handlers marked `@authenticated`: `/metrics`,
`/healthcheck` and the static files answer anyone. Here every handler class of the application
is wrapped so that its `prepare()` first asks for the login, whatever the class does after.
"""

from __future__ import annotations

import binascii
import hmac
from base64 import b64decode
from collections.abc import Iterable
from typing import Any

from tornado.web import RequestHandler, url
from tornado.routing import URLSpec

USER = "techlead"
REALM = 'Basic realm="flower"'


def has_login(authorization: str | None, logins: Iterable[str]) -> bool:
    """Whether an `Authorization: Basic ...` header carries one of the `user:password` logins."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme != "Basic":
        return False
    try:
        credentials = b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    # Compare with every login, without stopping early, so timing tells nothing.
    matches = [hmac.compare_digest(credentials.encode(), login.encode()) for login in logins]
    return any(matches)


class LoginRequired:
    """Mixin placed first in a handler's bases: no login, no page (401 and a Basic challenge)."""

    def prepare(self) -> Any:
        handler: Any = self
        if not has_login(handler.request.headers.get("Authorization"),
                         handler.application.options.basic_auth or ()):
            handler.clear()
            handler.set_status(401)
            handler.set_header("WWW-Authenticate", REALM)
            handler.finish("Access denied")
            return None
        return super().prepare()  # type: ignore[misc]


def guarded(handler_class: type[RequestHandler]) -> type[RequestHandler]:
    """The handler class with the login asked first."""
    if issubclass(handler_class, LoginRequired):
        return handler_class
    return type(f"Guarded{handler_class.__name__}", (LoginRequired, handler_class), {})


def guard_all(rules: Iterable[Any]) -> list[URLSpec]:
    """URL rules (`url(...)` or tuples) with every handler guarded, names kept."""
    specs = []
    for rule in rules:
        spec = rule if isinstance(rule, URLSpec) else url(*rule)
        specs.append(url(spec.regex.pattern, guarded(spec.handler_class), spec.kwargs, spec.name))
    return specs
