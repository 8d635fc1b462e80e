"""The inventory's refusals of a reservation, by code (a contract between the inventory, which
answers them, and the orchestrator and the order service, which read or answer them too: so
it is written once)."""

OUT_OF_STOCK = "out_of_stock"
OVER_ORDER_LIMIT = "over_order_limit"          # more of a ticket than one order may ask
OVER_CUSTOMER_LIMIT = "over_customer_limit"    # more than one customer may hold at once
UNKNOWN_TICKET = "unknown_ticket"
PRICE_CHANGED = "price_changed"
RESERVATION_RELEASED = "reservation_released"
