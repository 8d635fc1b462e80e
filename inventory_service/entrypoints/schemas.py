"""The JSON the HTTP API accepts (pydantic models) and answers (plain dicts)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID, uuid4

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field

from glastonbury.web import json_number, storable_text
from inventory_service.adapters.tables import MAX_AVAILABLE, MAX_PRICE, NAME_LENGTH
from inventory_service.domain.model import Line, Reservation, Ticket

MAX_QUANTITY = 10_000  # the order service accepts up to this many per line
MAX_ITEMS = 50

# Strict: JSON `true` or `"3"` is not a quantity, even though Python would coerce it.
Quantity = Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY)]
Available = Annotated[int, Field(strict=True, ge=0, le=MAX_AVAILABLE)]
Name = Annotated[str, Field(strict=True, min_length=1, max_length=NAME_LENGTH),
                 AfterValidator(storable_text)]


# A JSON number, read as Decimal from its text (the app's DecimalJSONProvider): "at most 2
# decimals" is judged on what the client wrote, not on a float's binary approximation.
Price = Annotated[Decimal, BeforeValidator(json_number),
                  Field(ge=0, le=MAX_PRICE, decimal_places=2, allow_inf_nan=False)]


class ReservationItem(BaseModel):
    ticket_id: UUID = Field(alias="ticketId")
    quantity: Quantity
    # The unit price the order was placed at; if given, it must be the catalogue's.
    unit_price: Price | None = Field(default=None, alias="unitPrice")


class ReservationRequest(BaseModel):
    """`PUT /reservations/{orderId}`; unknown fields are ignored."""

    items: list[ReservationItem] = Field(min_length=1, max_length=MAX_ITEMS)

    def lines(self) -> list[Line]:
        """The requested items as domain lines (duplicates are merged by the domain)."""
        return [Line(item.ticket_id, item.quantity) for item in self.items]

    def unit_prices(self) -> dict[UUID, Decimal]:
        """The unit price each ticket was ordered at, where the request says it."""
        return {item.ticket_id: item.unit_price for item in self.items
                if item.unit_price is not None}


class NewTicket(BaseModel):
    """`POST /tickets`; the id is optional, but not null."""

    id: UUID = Field(default_factory=uuid4)
    name: Name
    available: Available
    price: Price


class NewPrice(BaseModel):
    """`PUT /tickets/{id}/price`."""

    price: Price


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    """A ticket as the API shows it; its price a JSON number (null: not for sale)."""
    return {"id": str(ticket.id), "name": ticket.name, "available": ticket.available,
            "price": None if ticket.price is None else float(ticket.price)}


def reservation_json(reservation: Reservation) -> dict[str, Any]:
    """A reservation as the API shows it; a tombstone has no items."""
    return {
        "orderId": str(reservation.order_id),
        "status": reservation.status.value,
        "items": [{"ticketId": str(line.ticket_id), "quantity": line.quantity}
                  for line in reservation.lines],
    }
