"""Domain errors and malformed ids as the JSON errors of `glastonbury.web`."""

from __future__ import annotations

from uuid import UUID

from glastonbury.contracts import errors as codes
from glastonbury.web import ApiError
from inventory_service.domain.exceptions import (
    AlreadyConfirmed,
    InventoryError,
    OutOfStock,
    OverCustomerLimit,
    OverOrderLimit,
    PriceChanged,
    ReservationNotFound,
    ReservationReleased,
    TicketAlreadyExists,
    TicketNotFound,
    UnknownTicket,
)
from inventory_service.entrypoints.schemas import ReservationRequest

STATUS_AND_CODE: dict[type[InventoryError], tuple[int, str]] = {
    OutOfStock: (409, codes.OUT_OF_STOCK),
    OverOrderLimit: (409, codes.OVER_ORDER_LIMIT),
    OverCustomerLimit: (409, codes.OVER_CUSTOMER_LIMIT),
    UnknownTicket: (409, codes.UNKNOWN_TICKET),
    PriceChanged: (409, codes.PRICE_CHANGED),
    ReservationReleased: (409, codes.RESERVATION_RELEASED),
    AlreadyConfirmed: (409, codes.ALREADY_CONFIRMED),
    TicketAlreadyExists: (409, codes.TICKET_EXISTS),
    ReservationNotFound: (404, codes.RESERVATION_NOT_FOUND),
    TicketNotFound: (404, codes.TICKET_NOT_FOUND),
}


def api_error(error: InventoryError, request: ReservationRequest | None = None) -> ApiError:
    """The HTTP answer to a domain error; `request` lets details name the offending items."""
    status, code = STATUS_AND_CODE[type(error)]
    return ApiError(status, code, str(error), _details(error, request))


def _details(error: InventoryError, request: ReservationRequest | None) -> list[dict]:
    if isinstance(error, OutOfStock):
        return [{"field": _item_field(request, s.ticket_id, "quantity"),
                 "ticketId": str(s.ticket_id),
                 "requested": s.requested, "available": s.available,
                 "problem": f"{s.available} available, {s.requested} requested"}
                for s in error.shortages]
    if isinstance(error, OverOrderLimit):
        return [{"field": _item_field(request, e.ticket_id, "quantity"),
                 "ticketId": str(e.ticket_id), "name": e.name, "requested": e.requested,
                 "limit": e.limit,
                 "problem": f"at most {e.limit} an order, {e.requested} requested"}
                for e in error.excesses]
    if isinstance(error, OverCustomerLimit):
        return [{"field": _item_field(request, e.ticket_id, "quantity"),
                 "ticketId": str(e.ticket_id), "name": e.name, "requested": e.requested,
                 "held": e.held, "limit": e.limit,
                 "problem": f"at most {e.limit} held by one customer; {e.held} held, "
                            f"{e.requested} requested"}
                for e in error.excesses]
    if isinstance(error, PriceChanged):
        return [{"field": _item_field(request, d.ticket_id, "unitPrice"),
                 "ticketId": str(d.ticket_id), "orderedAt": float(d.ordered_at),
                 "price": None if d.catalogue is None else float(d.catalogue),
                 "problem": (f"the catalogue's price is {d.catalogue}" if d.catalogue is not None
                             else "the ticket is not for sale")}
                for d in error.differences]
    if isinstance(error, UnknownTicket):
        return [{"field": _item_field(request, ticket_id, "ticketId"), "ticketId": str(ticket_id),
                 "problem": "no such ticket"} for ticket_id in error.ticket_ids]
    return []


def _item_field(request: ReservationRequest | None, ticket_id: UUID, name: str) -> str:
    # Duplicate lines of a ticket were merged: name the first item that asked for it.
    items = request.items if request else []
    index = next((i for i, item in enumerate(items) if item.ticket_id == ticket_id), 0)
    return f"items[{index}].{name}"
