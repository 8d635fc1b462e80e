"""The inventory's catalogue as the order service reads it: what each ticket costs, and the
most one order may ask of it.

A read of public reference data (`GET /tickets?id=...`), not a step of the saga: the order
service answers a customer who names a wrong price, or asks more than one order may, at once
(422) instead of letting the saga reject the order later. The inventory stays the authority:
the reserve step sends each line's price and the order's customer, and the inventory refuses a
price that is not its own and an order over a limit, so a stale cache or an unreachable
inventory (orders are then accepted unchecked) can never get tickets at another price or
beyond a limit.

The listings are kept `CACHE_SECONDS`, at most `CACHE_TICKETS` of them (cachetools' TTLCache), and
only of tickets the catalogue has: an id it does not know is asked again each time, so made-up
ids (anyone can send them) never fill the process's memory.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from cachetools import TTLCache

from glastonbury.contracts import paths
from glastonbury.service_client import ServiceHttp, Unreachable
from order_service.domain.model import Listing

log = logging.getLogger(__name__)

CACHE_SECONDS = 2.0
CACHE_TICKETS = 1024   # a festival sells tens of kinds of ticket
TIMEOUT_S = 1.0


class Catalogue(Protocol):
    """Ticket id -> its listing (price, the most one order may ask); a ticket not in the answer
    does not exist. None for the whole answer when the catalogue cannot be read now."""

    def listings(self, ticket_ids: list[UUID]) -> dict[UUID, Listing] | None: ...


class HttpCatalogue:
    """The inventory's `GET /tickets?id=...`, each listing kept for `CACHE_SECONDS`."""

    def __init__(self, inventory_url: str, cache_seconds: float = CACHE_SECONDS,
                 cache_tickets: int = CACHE_TICKETS, ca_bundle: str | None = None):
        self.http = ServiceHttp(inventory_url, TIMEOUT_S, ca_bundle=ca_bundle)
        # Not thread-safe by itself: every use holds the lock.
        self.cache: TTLCache[UUID, Listing] = TTLCache(cache_tickets, cache_seconds,
                                                       timer=time.monotonic)
        self._lock = threading.Lock()

    def listings(self, ticket_ids: list[UUID]) -> dict[UUID, Listing] | None:
        asked = list(dict.fromkeys(ticket_ids))
        with self._lock:
            kept = {ticket: self.cache.get(ticket) for ticket in asked}
        known = {ticket: listing for ticket, listing in kept.items() if listing is not None}
        missing = [ticket for ticket in asked if ticket not in known]
        if missing:
            fetched = self._fetch(missing)
            if fetched is None:
                return None
            with self._lock:
                self.cache.update(fetched)   # what exists only: a miss is asked again
            known.update(fetched)
        return known

    def _fetch(self, ticket_ids: list[UUID]) -> dict[UUID, Listing] | None:
        try:
            reply = self.http.request("GET", paths.TICKETS,
                                      query={"id": [str(t) for t in ticket_ids]})
        except Unreachable as error:
            log.warning("catalogue unreachable, prices not checked here: %s", error)
            return None
        if reply.status != 200:
            log.warning("catalogue answered %s, prices not checked here", reply.status)
            return None
        tickets = json.loads(reply.body, parse_float=Decimal).get("tickets", [])
        return {UUID(t["id"]): _listing(t) for t in tickets}


def _listing(ticket: dict[str, Any]) -> Listing:
    price, most = ticket.get("price"), ticket.get("maxPerOrder")
    return Listing(str(ticket.get("name", "")), None if price is None else Decimal(str(price)),
                   most if isinstance(most, int) and not isinstance(most, bool) else None)
