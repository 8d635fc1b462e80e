"""One login in front of every path of the dashboard, Flower's own pages included.

Flower 2.2 checks its `--basic-auth` only in handlers marked `@authenticated`: `/metrics`,
`/healthcheck` and the static files answer anyone. Here every handler class of the application
is wrapped so that its `prepare()` first asks for the login, whatever the class does after.
"""

from __future__ import annotations

import binascii
import hmac
import time
from base64 import b64decode
from collections.abc import Iterable
from typing import Any

from tornado.web import RequestHandler, url
from tornado.routing import URLSpec

USER = "techlead"
REALM = 'Basic realm="flower"'


class Throttle:
    """Failed logins per client address: after `limit` failures within `window_s`, that address
    is refused (429) until the window has passed, so a password cannot be guessed at speed."""

    def __init__(self, limit: int = 5, window_s: float = 60.0):
        self.limit, self.window_s = limit, window_s
        self.failures: dict[str, list[float]] = {}

    def _recent(self, address: str, moment: float) -> list[float]:
        recent = [t for t in self.failures.get(address, []) if moment - t < self.window_s]
        if recent:
            self.failures[address] = recent
        else:
            self.failures.pop(address, None)
        return recent

    def blocked_for(self, address: str, moment: float | None = None) -> float:
        """Seconds the address must still wait, 0 if it may try."""
        moment = time.monotonic() if moment is None else moment
        recent = self._recent(address, moment)
        if len(recent) < self.limit:
            return 0.0
        return max(0.0, self.window_s - (moment - recent[-self.limit]))

    def failed(self, address: str, moment: float | None = None) -> None:
        moment = time.monotonic() if moment is None else moment
        self.failures.setdefault(address, []).append(moment)
        if len(self.failures) > 10_000:   # many addresses: forget the oldest, stay small
            self.failures.pop(next(iter(self.failures)))


THROTTLE = Throttle()


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
        address = handler.request.remote_ip or "?"
        wait = THROTTLE.blocked_for(address)
        if wait:
            handler.clear()
            handler.set_status(429)
            handler.set_header("Retry-After", str(int(wait) + 1))
            handler.finish("Too many failed logins; try again later")
            return None
        authorization = handler.request.headers.get("Authorization")
        if not has_login(authorization, handler.application.options.basic_auth or ()):
            if authorization:   # a wrong password, not a browser asking for the login
                THROTTLE.failed(address)
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
