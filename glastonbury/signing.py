"""What one part signs and another believes: HMAC-SHA256 under a key the two share.

A queue or a topic carries messages anyone with access to the broker could write, so a message
that moves money or tickets is believed only with its writer's signature: the payment relay signs
each payment result (its Kafka value; the bridge checks it), the order service signs each order
message (`saga.start`'s argument; the orchestrator checks it before a saga is started).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

# The field of a signed JSON message that carries the signature of the rest of it.
SIGNATURE_FIELD = "signature"


def signature(key: str, value: bytes) -> str:
    """The HMAC-SHA256 of `value` under `key`, as hex."""
    return hmac.new(key.encode(), value, hashlib.sha256).hexdigest()


def is_signature(key: str, value: bytes, presented: str | bytes | None) -> bool:
    """Whether `presented` is the signature of `value` under `key` (never without a key)."""
    if not key or not presented:
        return False
    if isinstance(presented, bytes):
        presented = presented.decode("ascii", "replace")
    return hmac.compare_digest(presented, signature(key, value))


def signed(message: dict[str, Any], key: str) -> dict[str, Any]:
    """The JSON message with the signature of the rest of it in `signature`."""
    unsigned = {name: value for name, value in message.items() if name != SIGNATURE_FIELD}
    return {**unsigned, SIGNATURE_FIELD: signature(key, _canonical(unsigned))}


def is_signed(message: Any, key: str) -> bool:
    """Whether the JSON message carries the signature of the rest of it under `key`."""
    if not isinstance(message, dict):
        return False
    unsigned = {name: value for name, value in message.items() if name != SIGNATURE_FIELD}
    try:
        value = _canonical(unsigned)
    except (TypeError, ValueError):
        return False
    return is_signature(key, value, message.get(SIGNATURE_FIELD))


def _canonical(message: dict[str, Any]) -> bytes:
    # Both sides must sign the same bytes: keys sorted, no spaces, ASCII only.
    return json.dumps(message, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True).encode()
