"""A nudge from the payment API to the relay: "a payment is waiting for the gateway".

The relay would otherwise find new payments only at its next poll. The nudge is one UDP
datagram, sent after the payment is committed, fire and forget: a lost one costs nothing but
the wait for the relay's catch-up poll (`PAYMENT_RELAY_POLL_INTERVAL`). Works alike for SQLite
and PostgreSQL, on one machine and between containers (`PAYMENT_RELAY_WAKE_ADDRESS`).
"""

from __future__ import annotations

import logging
import select
import socket

log = logging.getLogger(__name__)


def parse_address(address: str) -> tuple[str, int] | None:
    """`host:port` as a socket address; None when empty (no nudges)."""
    if not address:
        return None
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


class RelayNudger:
    """The payment API's side: tell the relay there is work, never fail the request for it."""

    def __init__(self, address: str):
        self.address = parse_address(address)
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.setblocking(False)

    def nudge(self) -> None:
        if self.address is None:
            return
        try:
            self.socket.sendto(b"!", self.address)
        except OSError as error:  # relay not there, name not resolvable: the poll covers it
            log.debug("relay nudge to %s not sent: %s", self.address, error)


class WakeListener:
    """The relay's side: sleep until nudged or until the catch-up poll is due."""

    def __init__(self, sock: socket.socket | None):
        self.socket = sock

    @classmethod
    def bind(cls, address: str) -> WakeListener:
        """Listen on `address`; a listener that only sleeps if it cannot be bound."""
        parsed = parse_address(address)
        if parsed is None:
            return cls(None)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind(parsed)
        except OSError as error:
            log.warning("cannot listen for nudges on %s (%s): polling only", address, error)
            sock.close()
            return cls(None)
        sock.setblocking(False)
        return cls(sock)

    def wait(self, timeout_s: float) -> bool:
        """True when nudged (every nudge waiting is taken: one pass serves them all)."""
        if self.socket is None:
            select.select([], [], [], timeout_s)
            return False
        ready, _, _ = select.select([self.socket], [], [], timeout_s)
        if not ready:
            return False
        while True:
            try:
                self.socket.recv(64)
            except BlockingIOError:
                return True
            except OSError:
                return True

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()
