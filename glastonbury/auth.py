"""Service credentials: who may make which internal call.

Internal calls carry `Authorization: Bearer <token>`, one token per caller, from the
environment: `ORCHESTRATOR_TOKEN` (the saga's calls to the three services) and `ADMIN_TOKEN`
(a person managing the catalogue or reading orders in bulk). A route names the callers it
accepts; anyone else gets 401 with a JSON body. Tokens are compared in constant time.

The local stack (`make up`) runs with documented local defaults (`.env.example`); a service
started outside it refuses them, so production never runs on a credential written in the repo.
"""

from __future__ import annotations

import hmac
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Response, current_app, request

from glastonbury import settings
from glastonbury.contracts import errors as codes
from glastonbury.web import error_response

ORCHESTRATOR = "orchestrator"
ADMIN = "admin"
# The documented local values (glastonbury.settings, .env.example): good for `make up`, refused
# anywhere else.
LOCAL_DEFAULTS = {setting.name: setting.local for setting in settings.SETTINGS.values()
                  if setting.kind == "secret" and setting.local is not None}
LOCAL_STACK = settings.LOCAL_STACK.name   # set by `make up` and the test stacks
View = TypeVar("View", bound=Callable[..., Any])


def secret(name: str) -> str:
    """A credential from the environment; the process stops if it is a documented local
    default outside the local stack."""
    value = settings.SETTINGS[name].text()
    if value and value == LOCAL_DEFAULTS.get(name) and not settings.local_stack():
        misread = settings.misread_local_stack()
        because = (f" ({LOCAL_STACK} is {misread!r}, not 1: this is not the local stack)"
                   if misread is not None else "")
        sys.exit(f"{name} is the documented local default of .env.example{because}: set a "
                 "secret of your own (only `make up` may run with the local defaults)")
    return value


def required_secret(name: str, needed_because: str) -> str:
    """A credential the process cannot work without: it stops, saying why, when unset."""
    value = secret(name)
    if not value:
        sys.exit(f"{name} is not set: {needed_because}")
    return value


def order_messages_key() -> str:
    """The key of the order messages (`saga.start`): the order service signs with it, the
    orchestrator believes only what it signs (its reconciler signs the sagas it starts)."""
    return required_secret(settings.ORDER_MESSAGES_SIGNING_KEY.name,
                           "the orchestrator starts a saga only from an order message it can "
                           "verify")


def caller_tokens() -> dict[str, str]:
    """Each caller's token, from the environment."""
    return {ORCHESTRATOR: secret("ORCHESTRATOR_TOKEN"), ADMIN: secret("ADMIN_TOKEN")}


def token_of(caller: str) -> str:
    return caller_tokens()[caller]


def install_credentials(app: Flask, tokens: dict[str, str] | None = None) -> None:
    """The tokens this app accepts, by caller (from the environment unless given)."""
    app.config["CALLER_TOKENS"] = tokens if tokens is not None else caller_tokens()


def is_one_of(authorization: str | None, tokens: dict[str, str], callers: tuple[str, ...]) -> bool:
    """Whether an `Authorization: Bearer ...` header carries the token of one of `callers`."""
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return False
    # Every token compared, without stopping early: timing tells nothing.
    matches = [hmac.compare_digest(presented.strip().encode(), tokens[caller].encode())
               for caller in callers if tokens.get(caller)]
    return any(matches)


def requires(*callers: str) -> Callable[[View], View]:
    """Only these callers may call the route; anyone else gets 401 and a JSON body."""

    def wrap(view: View) -> View:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            tokens = current_app.config["CALLER_TOKENS"]
            if not is_one_of(request.headers.get("Authorization"), tokens, callers):
                return unauthorized(callers)
            return view(*args, **kwargs)

        checked.callers = callers  # type: ignore[attr-defined]  # for the OpenAPI documents
        return checked  # type: ignore[return-value]

    return wrap


def callers_of(view: Callable[..., Any]) -> tuple[str, ...]:
    """The callers `requires` lets call this view; none: anyone may."""
    return getattr(view, "callers", ())


def unauthorized(callers: tuple[str, ...]) -> Response:
    response = error_response(
        401, codes.UNAUTHORIZED,
        f"This call needs the credential of the {' or '.join(callers)}: "
        "Authorization: Bearer <token>.")
    response.headers["WWW-Authenticate"] = 'Bearer realm="glastonbury"'
    return response


def bearer(caller: str) -> dict[str, str]:
    """The header a caller sends its token in."""
    return {"Authorization": f"Bearer {token_of(caller)}"}
