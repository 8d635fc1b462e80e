"""Clients waiting for their order to end (`GET /orders/{id}?wait=…`), woken when it does.

A long-poll instead of polling: a client that waits costs one request and a sleeping thread,
where one that polls every 10 ms costs the order service more CPU than the saga itself
(bench/README.md). An outcome recorded by this process wakes its waiters at once; one recorded
by another process of the service (several workers) is seen at the waiter's next look in the
database, every `recheck_s`.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager


class _Waiting:
    """The clients waiting for one order: one event wakes them all."""

    def __init__(self) -> None:
        self.ended = threading.Event()
        self.clients = 0


class OutcomeWaiters:
    """Who waits for which order, in this process; at most `capacity` clients at once, so that
    waiting clients never take every thread the HTTP server runs requests on."""

    def __init__(self, capacity: int, recheck_s: float = 0.5):
        self.capacity = capacity
        self.recheck_s = recheck_s
        self._lock = threading.Lock()
        self._orders: dict[uuid.UUID, _Waiting] = {}
        self._clients = 0

    @contextmanager
    def watching(self, order_id: uuid.UUID) -> Iterator[threading.Event | None]:
        """An event set when the order's outcome is recorded here, or None when `capacity`
        clients wait already. Watch before reading the order, so no outcome slips between."""
        with self._lock:
            if self._clients >= self.capacity:
                waiting = None
            else:
                waiting = self._orders.setdefault(order_id, _Waiting())
                waiting.clients += 1
                self._clients += 1
        try:
            yield waiting.ended if waiting else None
        finally:
            if waiting:
                with self._lock:
                    waiting.clients -= 1
                    self._clients -= 1
                    if not waiting.clients and self._orders.get(order_id) is waiting:
                        del self._orders[order_id]

    def ended(self, order_id: uuid.UUID) -> None:
        """The order's outcome is stored: wake everyone waiting for it."""
        with self._lock:
            waiting = self._orders.pop(order_id, None)
        if waiting:
            waiting.ended.set()

    @property
    def clients(self) -> int:
        """How many clients wait now."""
        return self._clients
