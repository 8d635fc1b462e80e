"""Amounts as the parts write them to one another, and the money limits they agree on."""

from decimal import Decimal

CENT = Decimal("0.01")
# The most one payment can be (the payment service keeps amounts as NUMERIC(14, 2)). An order
# whose total is above it could never be paid: the order service refuses it when placed.
PAYMENT_AMOUNT_MAX = Decimal("999999999999.99")


def whole_cents(amount: Decimal) -> Decimal:
    """The amount in whole cents."""
    return amount.quantize(CENT)


def money_text(amount: Decimal) -> str:
    """An amount as the messages carry it: two decimals, no exponent (`"200.00"`)."""
    return f"{whole_cents(amount):f}"
