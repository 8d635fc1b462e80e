"""Clients waiting for their order to end (`GET /orders/{id}?wait=…`), woken when it does.

A long-poll instead of polling: a client that waits costs one request and a sleeping thread,
where one that polls every 10 ms costs the order service more CPU than the saga itself
(bench/README.md). An outcome recorded by this process wakes its waiter at once; one recorded
by another process of the service (several workers) is seen at the waiter's next look in the
database, every `recheck_s`.

Each waiter holds one of the HTTP server's threads, so waiting is shared out fairly:
- at most `capacity` waiters in the process, below the server's threads, so that placing
  orders and `/healthz` always find a thread;
- at most `per_client` of them from one client address, so that one client cannot take every
  slot from the others (beyond, it is answered at once, with `Retry-After`);
- a client refused again and again is told to wait longer each time (`retry_after_s`: 1, 2,
  4 ... 30 s), so that refused clients do not all come back within the same second;
- one waiter an order: a new wait on an order takes over its slot, and the earlier waiter is
  answered at once with the order as it stands. Sixteen waits on one order hold one thread, and
  a client that lost its connection and asks again is not counted twice.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

MAX_RETRY_AFTER_S = 30
REMEMBERED_CLIENTS = 4096   # refused clients whose refusals are counted: the oldest forgotten


class Waiter:
    """One client waiting for one order: woken when the order ends or another takes its slot."""

    def __init__(self, client: str) -> None:
        self.client = client
        self.wake = threading.Event()
        self.superseded = False


class OutcomeWaiters:
    """Who waits for which order in this process, within `capacity` waiters, `per_client` of
    them from one client address, and one an order."""

    def __init__(self, capacity: int, per_client: int | None = None, recheck_s: float = 0.5):
        self.capacity = capacity
        self.per_client = capacity if per_client is None else per_client
        self.recheck_s = recheck_s
        self._lock = threading.Lock()
        self._orders: dict[uuid.UUID, Waiter] = {}
        self._by_client: dict[str, int] = {}   # only clients waiting now: bounded by capacity
        self._refusals: dict[str, int] = {}    # refusals in a row, by client (bounded)

    @contextmanager
    def waiting(self, order_id: uuid.UUID, client: str = "") -> Iterator[Waiter | None]:
        """The slot of the order for `client` (taken over from an earlier waiter, who is woken),
        or None when no slot is free for it. Take it before reading the order, so that no
        outcome slips between."""
        with self._lock:
            earlier = self._orders.get(order_id)
            waiter = None if self._refused(client, earlier) else self._take(order_id, client)
            self._count_refusal(client, refused=waiter is None)
        try:
            yield waiter
        finally:
            if waiter is not None:
                with self._lock:
                    if self._orders.get(order_id) is waiter:
                        del self._orders[order_id]
                        self._leave(waiter)

    def _take(self, order_id: uuid.UUID, client: str) -> Waiter:
        """The order's slot for `client`; its earlier waiter is answered at once."""
        earlier = self._orders.get(order_id)
        if earlier is not None:
            self._leave(earlier)
            earlier.superseded = True
            earlier.wake.set()
        waiter = self._orders[order_id] = Waiter(client)
        self._by_client[client] = self._by_client.get(client, 0) + 1
        return waiter

    def _refused(self, client: str, earlier: Waiter | None) -> bool:
        """Whether no slot is free for `client`; an earlier waiter's is freed by taking it."""
        freed = 1 if earlier is not None else 0
        mine = self._by_client.get(client, 0) - (freed if earlier and earlier.client == client
                                                 else 0)
        return self.clients - freed >= self.capacity or mine >= self.per_client

    def _count_refusal(self, client: str, refused: bool) -> None:
        refusals = self._refusals.pop(client, 0) + 1   # popped: re-inserted as the newest
        if not refused:
            return
        self._refusals[client] = refusals
        if len(self._refusals) > REMEMBERED_CLIENTS:
            del self._refusals[next(iter(self._refusals))]

    def retry_after_s(self, client: str = "") -> int:
        """When a client answered before its wait was up should ask again: 1 s, doubled for
        each refusal in a row (up to MAX_RETRY_AFTER_S); 1 s once it was given a slot."""
        with self._lock:
            refusals = self._refusals.get(client, 0)
        return min(MAX_RETRY_AFTER_S, 2 ** max(0, min(refusals - 1, 5)))

    def _leave(self, waiter: Waiter) -> None:
        left = self._by_client[waiter.client] - 1
        if left:
            self._by_client[waiter.client] = left
        else:
            del self._by_client[waiter.client]

    def ended(self, order_id: uuid.UUID) -> None:
        """The order's outcome is stored: wake its waiter."""
        with self._lock:
            waiter = self._orders.get(order_id)
        if waiter is not None:
            waiter.wake.set()

    @property
    def clients(self) -> int:
        """How many clients wait now."""
        return sum(self._by_client.values())
