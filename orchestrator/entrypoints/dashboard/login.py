"""One login in front of every path of the dashboard, Flower's own pages included.

Flower 2.2 checks its `--basic-auth` only in handlers marked `@authenticated`: `/metrics`,
`/healthcheck` and the static files answer anyone. Here every handler class of the application
is wrapped so that its `prepare()` first asks for the login, whatever the class does after.

Guessing the password is slowed twice over, by client address and by account, with delays
that grow rather than a lock-out: after a few free failures each one more doubles the wait
before that address's (or account's) next try is checked (1 s, 2 s, 4 s, ... 30 s), and the
failures are forgotten a quarter of an hour after the last. Many addresses guessing together
meet the account's delay; the tech lead behind a proxy shared with a guesser waits 30 s at
most, never a minute per five failures as before. The address is the peer's, or what a
`TRUSTED_PROXIES` proxy says it is (glastonbury.client_address), whatever Flower's
`--xheaders` says.
"""

from __future__ import annotations

import binascii
import hmac
import math
import time
from base64 import b64decode
from collections.abc import Callable, Iterable
from typing import Any

from cachetools import TTLCache
from tornado.httputil import HTTPServerRequest
from tornado.web import RequestHandler, url
from tornado.routing import URLSpec

from glastonbury.client_address import FORWARDED_FOR, client_address, limit_key

USER = "techlead"
REALM = 'Basic realm="flower"'
OTHER_USER = "(another user)"   # every unknown user name is one account: no map of guesses


class Backoff:
    """Failed logins by key (an address, an account): the first `free` cost nothing, then each
    one more doubles the wait before the key's next try is checked, from `first_s` up to
    `cap_s`. A key is forgotten `forget_s` after its last failure, and at most `keys` are kept
    (the least recently failed go first)."""

    def __init__(self, free: int, first_s: float = 1.0, cap_s: float = 30.0,
                 forget_s: float = 900.0, keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self.free, self.first_s, self.cap_s, self.clock = free, first_s, cap_s, clock
        self.failures: TTLCache[str, tuple[int, float]] = TTLCache(keys, forget_s, timer=clock)

    def wait_s(self, key: str) -> float:
        """Seconds before the key's next try is checked; 0: now."""
        _, next_try = self.failures.get(key, (0, 0.0))
        return max(0.0, next_try - self.clock())

    def failed(self, key: str) -> None:
        count = self.failures.get(key, (0, 0.0))[0] + 1
        beyond = count - self.free
        delay = min(self.cap_s, self.first_s * 2 ** (beyond - 1)) if beyond > 0 else 0.0
        self.failures[key] = (count, self.clock() + delay)


class Throttle:
    """The two backoffs a login passes: its client address's and its account's."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.by_address = Backoff(free=5, clock=clock)
        self.by_account = Backoff(free=10, clock=clock)

    def wait_s(self, address: str, account: str) -> float:
        return max(self.by_address.wait_s(address), self.by_account.wait_s(account))

    def failed(self, address: str, account: str) -> None:
        self.by_address.failed(address)
        self.by_account.failed(account)

    def clear(self) -> None:
        self.by_address.failures.clear()
        self.by_account.failures.clear()


THROTTLE = Throttle()


def peer_of(request: HTTPServerRequest) -> str:
    """The connection's own address: `request.remote_ip` is what `X-Real-Ip` says when Flower
    runs with `--xheaders`."""
    address = getattr(getattr(request.connection, "context", None), "address", None)
    return str(address[0]) if isinstance(address, tuple) and address else "local"


def client_of(handler: Any) -> str:
    """The request's client address, counted by its limit key (an IPv6 /64)."""
    request = handler.request
    proxies = handler.application.settings.get("trusted_proxies", ())
    return limit_key(client_address(peer_of(request), request.headers.get_list(FORWARDED_FOR),
                                    proxies))


def account_of(authorization: str | None, logins: Iterable[str]) -> str:
    """The user a Basic header names, if a login has it; any other name is OTHER_USER."""
    users = {login.partition(":")[0] for login in logins}
    name = _credentials(authorization).partition(":")[0]
    return name if name in users else OTHER_USER


def has_login(authorization: str | None, logins: Iterable[str]) -> bool:
    """Whether an `Authorization: Basic ...` header carries one of the `user:password` logins."""
    credentials = _credentials(authorization)
    if not credentials:
        return False
    # Compare with every login, without stopping early, so timing tells nothing.
    matches = [hmac.compare_digest(credentials.encode(), login.encode()) for login in logins]
    return any(matches)


def _credentials(authorization: str | None) -> str:
    """`user:password` of a Basic header; "" for none or a malformed one."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme != "Basic":
        return ""
    try:
        return b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""


class LoginRequired:
    """Mixin placed first in a handler's bases: no login, no page (401 and a Basic challenge)."""

    def prepare(self) -> Any:
        handler: Any = self
        logins = handler.application.options.basic_auth or ()
        authorization = handler.request.headers.get("Authorization")
        address, account = client_of(handler), account_of(authorization, logins)
        wait = THROTTLE.wait_s(address, account)
        if wait:
            handler.clear()
            handler.set_status(429)
            handler.set_header("Retry-After", str(math.ceil(wait)))
            handler.finish("Too many failed logins; try again later")
            return None
        if not has_login(authorization, logins):
            if authorization:   # a wrong password, not a browser asking for the login
                THROTTLE.failed(address, account)
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
