"""How many orders one client address and one customer may place: counted in Redis.

Every order service process counts in the same Redis (`REDIS_URL`, the broker's), through the
`limits` library's moving window: at most N orders in any window of the limit's length, not N
per clock minute (a fixed window lets 2N through around its edge). An accepted order costs one
Lua call per limit (two a `POST /orders`); a refused one a second call, for `Retry-After`.

When Redis cannot be reached the limits are not counted and orders are taken: an order placed
then is stored PENDING and the reconciler starts its saga once Redis is back, so closing intake
would refuse customers for nothing. It is logged, and Redis is asked again after
`PAUSE_AFTER_FAILURE_S`, so a Redis that hangs costs a request at most one time-out a pause.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)

ADDRESS, CUSTOMER = "address", "customer"
KEY_PREFIX = "glastonbury-limits"
# The customer waits on these calls: a Redis that does not answer within this is "down".
REDIS_TIMEOUT_S = 0.5
PAUSE_AFTER_FAILURE_S = 1.0


@dataclass(frozen=True)
class Refusal:
    """Which limit refused a client, and when one more order would be taken."""

    limit: str            # ADDRESS or CUSTOMER
    rule: str             # "60 per 1 minute"
    retry_after_s: int


class IntakeLimits(Protocol):
    """Counts one order of `who` (an address, a customer id) against the `limit` of that name;
    a Refusal when it is over, None when the order may go on."""

    def hit(self, limit: str, who: str) -> Refusal | None: ...


class CountedLimits:
    """The limits (`{ADDRESS: "60/minute", CUSTOMER: "10/minute"}`, the `limits` notation)
    counted in the storage at `storage_uri` (`redis://...`; `memory://` in tests)."""

    def __init__(self, storage_uri: str, rules: dict[str, str]):
        self.rules: dict[str, list[RateLimitItem]] = {
            limit: parse_many(rule) for limit, rule in rules.items()}
        options: dict[str, float | str | bool] = {}
        if storage_uri.startswith("redis"):
            options = {"socket_connect_timeout": REDIS_TIMEOUT_S,
                       "socket_timeout": REDIS_TIMEOUT_S, "key_prefix": KEY_PREFIX}
        # Builds a client only: it connects at the first hit, never when the app is made.
        self.limiter = MovingWindowRateLimiter(
            storage_from_string(storage_uri, wrap_exceptions=True, **options))
        self._failed_at = -math.inf
        self._lock = threading.Lock()

    def hit(self, limit: str, who: str) -> Refusal | None:
        if time.monotonic() - self._failed_at < PAUSE_AFTER_FAILURE_S:
            return None
        try:
            return self._hit(limit, who)
        except StorageError as error:
            with self._lock:
                self._failed_at = time.monotonic()
            log.warning("order limits not counted for %.0f s, orders taken: Redis does not "
                        "answer (%s)", PAUSE_AFTER_FAILURE_S, error.storage_error)
            return None

    def _hit(self, limit: str, who: str) -> Refusal | None:
        for item in self.rules.get(limit, ()):
            if not self.limiter.hit(item, "orders", limit, who):
                reset_at, _ = self.limiter.get_window_stats(item, "orders", limit, who)
                wait_s = max(1, math.ceil(reset_at - time.time()))
                return Refusal(limit, str(item), wait_s)
        return None
