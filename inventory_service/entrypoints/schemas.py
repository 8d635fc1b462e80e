"""The JSON the HTTP API accepts and answers, as pydantic models (its OpenAPI schemas)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID, uuid4

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from glastonbury.json_schema import UuidText
from glastonbury.web import STORABLE_TEXT, json_integer, json_number
from inventory_service.adapters.tables import MAX_AVAILABLE, MAX_PRICE, NAME_LENGTH
from inventory_service.domain import model as domain
from inventory_service.domain.model import (DEFAULT_MAX_PER_CUSTOMER, DEFAULT_MAX_PER_ORDER,
                                            HoldRequest, Limits, OrderedLine, ReservationStatus)

MAX_QUANTITY = 10_000  # the order service accepts up to this many per line
MAX_ITEMS = 50
MAX_TICKETS_ASKED = 100   # ids in one `GET /tickets?id=...&id=...`

# A JSON number with no fraction: JSON `true` or `"3"` is not a count, even though Python would
# coerce it; `3.0` is 3, as JSON Schema (the documents) reads it.
Quantity = Annotated[int, BeforeValidator(json_integer), Field(ge=1, le=MAX_QUANTITY)]
Available = Annotated[int, BeforeValidator(json_integer), Field(ge=0, le=MAX_AVAILABLE)]
Name = Annotated[str, Field(strict=True, min_length=1, max_length=NAME_LENGTH), STORABLE_TEXT]


# A JSON number, read as Decimal from its text (the app's DecimalJSONProvider): "at most 2
# decimals" is judged on what the client wrote, not on a float's binary approximation.
Price = Annotated[Decimal, BeforeValidator(json_number),
                  Field(ge=0, le=MAX_PRICE, decimal_places=2, allow_inf_nan=False,
                        description="What one ticket costs, with at most 2 decimals.")]


class ReservationItem(BaseModel):
    ticket_id: UUID = Field(alias="ticketId")
    quantity: Quantity
    unit_price: Price = Field(
        alias="unitPrice",
        description="The price the order was placed at: it must be the catalogue's "
                    "(`price_changed`), on every line.")


class ReservationRequest(BaseModel):
    """`PUT /reservations/{orderId}`; items of the same ticket are added together, unknown
    fields are ignored."""

    # The brief's order, as the reserve step sends it.
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "customerId": "e081ad0f-f83e-4f81-b2d7-23655ac04b8a",
        "items": [{"ticketId": "3852cb18-9c19-4326-ac77-a1a0264bd98c", "quantity": 1,
                   "unitPrice": 200.00}]}]})

    customer_id: UUID = Field(
        alias="customerId",
        description="Whose order it is: what it holds counts against their limit of each "
                    "ticket (`over_customer_limit`).")
    items: list[ReservationItem] = Field(min_length=1, max_length=MAX_ITEMS)

    def hold_request(self, order_id: UUID) -> HoldRequest:
        """The request in the domain's words (duplicate lines are merged by the domain)."""
        return HoldRequest(order_id, self.customer_id, tuple(
            OrderedLine(item.ticket_id, item.quantity, item.unit_price) for item in self.items))


Limit = Annotated[int, BeforeValidator(json_integer), Field(ge=1, le=MAX_AVAILABLE)]
MaxPerOrder = Annotated[Limit, Field(
    description="The most one order may ask of the ticket, its lines added (`over_order_limit`).")]
MaxPerCustomer = Annotated[Limit, Field(
    description="The most one customer may hold of the ticket at once, across their orders: "
                "held (waiting for the payment) and sold (`over_customer_limit`).")]


class NewTicket(BaseModel):
    """`POST /tickets`; the id is optional, but not null."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"name": "day-two", "available": 500, "price": 180.00}]})

    id: UUID = Field(default_factory=uuid4, description="Chosen by the server when absent.")
    name: Name
    available: Available
    price: Price
    max_per_order: MaxPerOrder = Field(DEFAULT_MAX_PER_ORDER, alias="maxPerOrder")
    max_per_customer: MaxPerCustomer = Field(DEFAULT_MAX_PER_CUSTOMER, alias="maxPerCustomer")

    def limits(self) -> Limits:
        return Limits(self.max_per_order, self.max_per_customer)


class NewPrice(BaseModel):
    """`PUT /tickets/{id}/price`."""

    price: Price


class NewLimits(BaseModel):
    """`PUT /tickets/{id}/limits`: both limits."""

    max_per_order: MaxPerOrder = Field(alias="maxPerOrder")
    max_per_customer: MaxPerCustomer = Field(alias="maxPerCustomer")

    def limits(self) -> Limits:
        return Limits(self.max_per_order, self.max_per_customer)


class Ticket(BaseModel):
    """A kind of ticket as the API shows it, with its stock, its price and its limits."""

    id: UuidText
    name: str
    available: int
    price: float | None = Field(description="What one ticket costs; null: not for sale.")
    maxPerOrder: int = Field(description="The most one order may ask of it.")
    maxPerCustomer: int = Field(description="The most one customer may hold of it at once.")


class TicketList(BaseModel):
    """`GET /tickets`: by name."""

    tickets: list[Ticket]


class HeldItem(BaseModel):
    """What a reservation holds of one ticket."""

    ticketId: UuidText
    quantity: int


class Reservation(BaseModel):
    """A reservation as the API shows it."""

    orderId: UuidText
    customerId: UuidText | None = Field(
        description="Whose order it is; null for the tombstone of an unknown order.")
    status: ReservationStatus
    items: list[HeldItem] = Field(
        description="One item a ticket; empty for the tombstone of an unknown order.")


def ticket_json(ticket: domain.Ticket) -> dict[str, Any]:
    """A ticket as the API shows it (`Ticket`)."""
    return Ticket(id=str(ticket.id), name=ticket.name, available=ticket.available,
                  price=None if ticket.price is None else float(ticket.price),
                  maxPerOrder=ticket.limits.per_order,
                  maxPerCustomer=ticket.limits.per_customer).model_dump(mode="json")


def reservation_json(reservation: domain.Reservation) -> dict[str, Any]:
    """A reservation as the API shows it (`Reservation`)."""
    return Reservation(
        orderId=str(reservation.order_id), status=reservation.status,
        customerId=None if reservation.customer_id is None else str(reservation.customer_id),
        items=[HeldItem(ticketId=str(line.ticket_id), quantity=line.quantity)
               for line in reservation.lines],
    ).model_dump(mode="json")
