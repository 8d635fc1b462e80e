"""The services' URL paths the other parts call: each Flask app routes them, each client fills
them in (`fill`). Written in Flask's form, a part of the path as `<name>`."""

from __future__ import annotations

import re
from urllib.parse import quote

# The order service: the orchestrator records how an order ended, and its reconciler lists the
# orders left PENDING.
ORDERS = "/orders"
ORDER = "/orders/<order_id>"
ORDER_OUTCOME = "/orders/<order_id>/outcome"

# The inventory: the order service reads the catalogue, the orchestrator holds, confirms and
# releases an order's tickets.
TICKETS = "/tickets"
TICKET = "/tickets/<ticket_id>"
RESERVATION = "/reservations/<order_id>"
RESERVATION_CONFIRM = "/reservations/<order_id>/confirm"
RESERVATION_RELEASE = "/reservations/<order_id>/release"

# The payment service: the orchestrator asks for, reads, cancels and refunds an order's payment.
PAYMENTS = "/payments"
PAYMENT = "/payments/<order_id>"
PAYMENT_CANCEL = "/payments/<order_id>/cancel"
PAYMENT_REFUND = "/payments/<order_id>/refund"

PART = re.compile(r"<(\w+)>")


def fill(path: str, **parts: object) -> str:
    """`path` with each `<name>` replaced by `parts[name]`, quoted as one segment."""
    return PART.sub(lambda found: quote(str(parts[found.group(1)]), safe=""), path)
