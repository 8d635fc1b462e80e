"""How much of the text it is sent a service keeps: the writer cuts to it, the reader's schema
and table hold it."""

# An order's reason (why it failed, in the customer's words): the order service stores at most
# this many characters (`POST /orders/{orderId}/outcome`), the orchestrator cuts to it.
REASON_MAX_LENGTH = 500
