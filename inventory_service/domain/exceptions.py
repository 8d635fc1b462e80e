"""What can go wrong in the inventory, in business words."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID


class InventoryError(Exception):
    """Base of every business rule the inventory refuses to break."""


@dataclass(frozen=True)
class Shortage:
    """One ticket that cannot supply what an order asked for."""

    ticket_id: UUID
    requested: int
    available: int


class OutOfStock(InventoryError):
    """At least one ticket has fewer available than requested; nothing was held."""

    def __init__(self, shortages: list[Shortage]):
        super().__init__("not enough tickets: " + ", ".join(
            f"{s.ticket_id} ({s.available} available, {s.requested} requested)" for s in shortages))
        self.shortages = shortages


@dataclass(frozen=True)
class Excess:
    """One ticket an order asks more of than a limit allows."""

    ticket_id: UUID
    name: str
    requested: int
    limit: int
    held: int = 0   # what the customer holds of it already (the per-customer limit)


class _OverALimit(InventoryError):
    """The order asks more of some tickets than a limit allows; nothing was held. Subclasses
    name the limit (`limit_name`) and word each ticket's excess (`worded`)."""

    limit_name = ""

    def __init__(self, excesses: list[Excess]):
        super().__init__(f"more than {self.limit_name}: "
                         + ", ".join(self.worded(e) for e in excesses))
        self.excesses = excesses

    @staticmethod
    def worded(excess: Excess) -> str:
        raise NotImplementedError


class OverOrderLimit(_OverALimit):
    """The order asks more of a ticket than one order may; nothing was held."""

    limit_name = "one order may ask"

    @staticmethod
    def worded(excess: Excess) -> str:
        return f"{excess.ticket_id} ({excess.requested} requested, at most {excess.limit} an order)"


class OverCustomerLimit(_OverALimit):
    """With this order the customer would hold more of a ticket than one customer may at once;
    nothing was held."""

    limit_name = "one customer may hold"

    @staticmethod
    def worded(excess: Excess) -> str:
        return (f"{excess.ticket_id} ({excess.held} held, {excess.requested} requested, "
                f"at most {excess.limit} a customer)")


@dataclass(frozen=True)
class PriceDifference:
    """A ticket an order was placed for at another price than the catalogue's."""

    ticket_id: UUID
    ordered_at: Decimal
    catalogue: Decimal | None   # None: the ticket has no price, it is not for sale


class PriceChanged(InventoryError):
    """The order's unit prices are not the catalogue's; nothing was held."""

    def __init__(self, differences: list[PriceDifference]):
        super().__init__("prices differ from the catalogue: " + ", ".join(
            f"{d.ticket_id} ordered at {d.ordered_at}, "
            + (f"costs {d.catalogue}" if d.catalogue is not None else "not for sale")
            for d in differences))
        self.differences = differences


class UnknownTicket(InventoryError):
    """The order asked for tickets that do not exist; nothing was held."""

    def __init__(self, ticket_ids: list[UUID]):
        super().__init__("no such tickets: " + ", ".join(str(t) for t in ticket_ids))
        self.ticket_ids = ticket_ids


class _AboutOneThing(InventoryError):
    """An error about one order or ticket, whose id it keeps; subclasses word the message."""

    message = "{}"

    def __init__(self, subject_id: UUID):
        super().__init__(self.message.format(subject_id))
        self.subject_id = subject_id


class ReservationReleased(_AboutOneThing):
    """The order's reservation was released (compensated) and can no longer hold or confirm."""

    message = "the reservation of order {} was released"


class AlreadyConfirmed(_AboutOneThing):
    """The order's reservation was confirmed; its tickets are sold and cannot be released."""

    message = "the reservation of order {} is confirmed"


class ReservationNotFound(_AboutOneThing):
    """No reservation, not even a tombstone, exists for the order."""

    message = "no reservation for order {}"


class TicketNotFound(_AboutOneThing):
    """No ticket has this id."""

    message = "no ticket {}"


class TicketAlreadyExists(_AboutOneThing):
    """A ticket with this id exists already."""

    message = "ticket {} exists already"
