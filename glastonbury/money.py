"""Money limits the services agree on (a contract between them, so it is written once)."""

from decimal import Decimal

# The most one payment can be (the payment service keeps amounts as NUMERIC(14, 2)). An order
# whose total is above it could never be paid: the order service refuses it when placed.
PAYMENT_AMOUNT_MAX = Decimal("999999999999.99")
