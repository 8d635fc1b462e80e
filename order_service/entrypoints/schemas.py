"""The HTTP shapes of the order service: request models (pydantic) and response bodies.

Numbers arrive as Decimal (see `DecimalJSONProvider`), so "at most 2 decimals" is judged on
the digits the client sent, not on a binary float's approximation of them.
"""

from __future__ import annotations

import base64
import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema,
                      field_validator)
from pydantic_core import PydanticCustomError

from glastonbury.json_schema import TimeText, UuidText
from glastonbury.contracts.ids import UUID_PATTERN, canonical_uuid
from glastonbury.contracts.limits import REASON_MAX_LENGTH
from glastonbury.contracts.money import PAYMENT_AMOUNT_MAX
from glastonbury.web import STORABLE_TEXT, json_integer, json_number
from order_service.adapters.repository import Position
from order_service.domain import model as domain
from order_service.domain.model import OrderLine, OrderStatus

MAX_AMOUNT = Decimal("999999999.99")
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,255}$"
# RFC 3339's date-time, except that the offset may be left out (then it is UTC).
DATE_TIME_PATTERN = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
                     r"([Zz]|[+-][0-9]{2}:[0-9]{2})?$")


def parse_uuid(value: Any) -> uuid.UUID:
    """A UUID in its canonical 8-4-4-4-12 text form, or a ValueError (PydanticCustomError)."""
    try:
        return canonical_uuid(value)
    except ValueError:
        raise PydanticCustomError("not_a_uuid", "must be a UUID in its 8-4-4-4-12 hex form") \
            from None


def _utc_moment(value: Any) -> datetime:
    # Pydantic alone would read "0.5" as seconds since 1970.
    if not isinstance(value, str) or not re.fullmatch(DATE_TIME_PATTERN, value):
        raise PydanticCustomError("not_a_date_time",
                                  "must be an ISO 8601 date and time, e.g. 2025-06-25T10:00:00Z")
    try:
        moment = datetime.fromisoformat(value.upper())
    except ValueError:
        raise PydanticCustomError(
            "not_a_date_time", "must be a real date and time within years 1 to 9999") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # A real RFC 3339 time (`0001-01-01T00:00:00+01:00`) whose UTC falls before year 1 or
        # after 9999, where no database keeps a time: as a bound of the list, the nearer end is
        # the same bound (no order is older, or newer).
        return DAY_ZERO if moment.year == 1 else LAST_MOMENT


Amount = Annotated[Decimal, BeforeValidator(json_number),
                   Field(ge=0, le=MAX_AMOUNT, decimal_places=2,
                         description="At most 2 decimals, as written in the JSON text.")]
# Ordering more tickets than exist is a rejection by the saga, not invalid input: the cap only
# keeps totals and stock arithmetic within bounds.
MAX_QUANTITY = 10_000
Quantity = Annotated[int, BeforeValidator(json_integer), Field(ge=1, le=MAX_QUANTITY)]
Uuid = Annotated[uuid.UUID, BeforeValidator(parse_uuid),
                 Field(json_schema_extra={"pattern": UUID_PATTERN})]
Name = Annotated[str, Field(strict=True, min_length=1, max_length=200), STORABLE_TEXT]
Reason = Annotated[str, Field(strict=True, max_length=REASON_MAX_LENGTH), STORABLE_TEXT]
UtcMoment = Annotated[datetime, BeforeValidator(_utc_moment)]


MAX_WAIT_S = 30


class OrderItemBody(BaseModel):
    """One line of `POST /orders`."""

    id: Uuid
    name: Name
    amount: Amount
    quantity: Quantity

    def to_line(self) -> OrderLine:
        """The domain's line for this item."""
        return OrderLine(self.id, self.name, self.amount, self.quantity)


class PlaceOrderBody(BaseModel):
    """The body of `POST /orders`; unknown fields are ignored."""

    # The brief's order: what the docs page offers to try, and what a fuzzer sends first.
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "customerId": "e081ad0f-f83e-4f81-b2d7-23655ac04b8a", "amount": 10.5,
        "items": [{"id": "3852cb18-9c19-4326-ac77-a1a0264bd98c", "name": "day-one",
                   "amount": 200.00, "quantity": 1}]}]})

    customer_id: Uuid = Field(alias="customerId")
    amount: Amount
    items: list[OrderItemBody] = Field(
        min_length=1, max_length=50,
        description=f"Their total (amount x quantity) at most {PAYMENT_AMOUNT_MAX}, the most "
                    "one payment can be.")

    @field_validator("items")
    @classmethod
    def _payable(cls, items: list[OrderItemBody]) -> list[OrderItemBody]:
        total = sum((item.amount * item.quantity for item in items), Decimal(0))
        if total > PAYMENT_AMOUNT_MAX:
            raise PydanticCustomError(
                "total_too_large", "the order's total {total} is above {most}, the most one "
                "payment can be", {"total": f"{total:.2f}", "most": str(PAYMENT_AMOUNT_MAX)})
        return items


class OutcomeBody(BaseModel):
    """The body of `POST /orders/{id}/outcome`, sent by the orchestrator."""

    status: Literal["COMPLETED", "REJECTED", "PAYMENT_FAILED"]
    reason: Reason | None = None


# A page's cursor: where the last order of the page before stands, as 24 bytes in base64url
# (32 characters, no padding): 8 the microseconds of its creation since 0001-01-01T00:00:00Z,
# big-endian, then the 16 of its id. Opaque to clients (they take it from `next`), and every
# string of its pattern is a place in the list: schema-valid is valid, as a fuzzer expects.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]{32}$"
DAY_ZERO = datetime.min.replace(tzinfo=UTC)
LAST_MOMENT = datetime.max.replace(tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def cursor(order: domain.Order) -> str:
    """Where the next page starts: after this order."""
    micros = (order.created_at - DAY_ZERO) // MICROSECOND
    raw = micros.to_bytes(8, "big") + order.id.bytes
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _position(value: Any) -> Position:
    if not isinstance(value, str) or not re.fullmatch(CURSOR_PATTERN, value):
        raise PydanticCustomError("not_a_cursor", "must be the cursor of a `next` link")
    raw = base64.urlsafe_b64decode(value)
    micros = int.from_bytes(raw[:8], "big")
    # Beyond the last moment a database keeps is after every order: an empty page.
    created = (DAY_ZERO + micros * MICROSECOND
               if micros <= (LAST_MOMENT - DAY_ZERO) // MICROSECOND else LAST_MOMENT)
    return created, uuid.UUID(bytes=raw[8:])


Cursor = Annotated[Position, BeforeValidator(_position),
                   WithJsonSchema({"type": "string", "pattern": CURSOR_PATTERN})]


class ListOrdersQuery(BaseModel):
    """The query of `GET /orders`; a time without an offset is UTC."""

    status: OrderStatus | None = None
    created_before: UtcMoment | None = Field(
        default=None, alias="createdBefore",
        description="Only orders created before this time; without an offset, UTC.")
    after: Cursor | None = Field(
        default=None,
        description="The next page: the orders after the last one of the page before. Take it "
                    "from the `next` link of that page; it means nothing else.")
    # Kept for a release: the pages of before, inclusive and by time alone (each repeated the
    # last order of the one before, and could not page past more than `limit` orders created in
    # one microsecond). Clients follow `next` now.
    created_after: UtcMoment | None = Field(
        default=None, alias="createdAfter",
        description="Deprecated: follow `next` instead. Only orders created at or after this "
                    "time.", json_schema_extra={"deprecated": True})
    limit: int = Field(default=100, ge=1, le=1000)

    def created_before_utc(self) -> datetime | None:
        """`createdBefore` as an aware UTC time, or None."""
        return self.created_before

    def next_page(self, last: domain.Order) -> str:
        """The link to the page after this one, whose last order is `last`: the same query,
        from after it."""
        query = {"status": self.status.value if self.status else None,
                 "createdBefore": iso_utc(self.created_before) if self.created_before else None,
                 "createdAfter": iso_utc(self.created_after) if self.created_after else None,
                 "limit": self.limit, "after": cursor(last)}
        return "/orders?" + urlencode({name: value for name, value in query.items()
                                       if value is not None})


class GetOrderQuery(BaseModel):
    """The query of `GET /orders/{id}`: `wait` seconds (at most 30) to wait for the order to
    end before answering; 0, the default, answers at once."""

    wait: float = Field(
        default=0, ge=0, le=MAX_WAIT_S, allow_inf_nan=False,
        description="Seconds to wait for the order to end before answering: the answer comes "
                    "when it ends or when the time is up, whichever is first. 0 (the default) "
                    "answers at once. Wait this way instead of polling.")


class IdempotencyKeyHeader(BaseModel):
    """The optional `Idempotency-Key` header: 1..255 visible ASCII characters."""

    key: str | None = Field(
        default=None, alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN,
        description="The customer's own key: sent again with the same order, it returns that "
                    "order instead of placing another; with another order, 409.")


class OrderItem(BaseModel):
    """One line of an order as the API shows it."""

    id: UuidText
    name: str
    amount: float
    quantity: int


class Order(BaseModel):
    """An order as the API shows it: amounts as JSON numbers, times as ISO 8601 UTC."""

    id: UuidText
    status: OrderStatus
    reason: str | None = Field(description="Why the order failed; null unless it did.")
    customerId: UuidText
    amount: float = Field(description="The declared amount, as sent.")
    total: float = Field(description="Sum of amount x quantity.")
    items: list[OrderItem]
    createdAt: TimeText
    updatedAt: TimeText


class OrderList(BaseModel):
    """`GET /orders`: oldest first, by creation time then id."""

    orders: list[Order]
    next: str | None = Field(description=(
        "The next page's link (also sent as `Link: <...>; rel=\"next\"`), or null when no "
        "order follows this page's last: the same query, with the `after` cursor."))


def order_json(order: domain.Order) -> dict[str, Any]:
    """The order as the API shows it (`Order`)."""
    return Order(
        id=str(order.id), status=order.status, reason=order.reason,
        customerId=str(order.customer_id), amount=float(order.amount), total=float(order.total),
        items=[OrderItem(id=str(line.ticket_id), name=line.name, amount=float(line.amount),
                         quantity=line.quantity) for line in order.lines],
        createdAt=iso_utc(order.created_at), updatedAt=iso_utc(order.updated_at),
    ).model_dump(mode="json")


def iso_utc(moment: datetime) -> str:
    """`2025-06-25T10:00:00.000000Z`."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
