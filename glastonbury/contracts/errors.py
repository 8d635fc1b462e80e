"""The codes of the services' JSON errors (`{"error": code, "message": ..., "details": [...]}`):
each handler answers with one of these, each OpenAPI document names it from here, and a client
that reads one (the orchestrator, the order service) compares with it.

A code is stable; the message beside it is prose for people and may change.
"""

# Every service: the body, the path's ids, the credential, the server (glastonbury.web, .auth,
# .gateway).
MALFORMED_JSON = "malformed_json"
UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
VALIDATION_FAILED = "validation_failed"
REQUEST_ENTITY_TOO_LARGE = "request_entity_too_large"   # werkzeug's name of 413, as Flask's
REQUEST_TIMEOUT = "request_timeout"
MALFORMED_ID = "malformed_id"
UNAUTHORIZED = "unauthorized"
UNAVAILABLE = "unavailable"           # the database does not answer: retry
INTERNAL_ERROR = "internal_error"

# The inventory's refusals of a reservation: the orchestrator tells the customer why from them,
# the order service refuses an order over a ticket's limit with the same code.
OUT_OF_STOCK = "out_of_stock"
OVER_ORDER_LIMIT = "over_order_limit"          # more of a ticket than one order may ask
OVER_CUSTOMER_LIMIT = "over_customer_limit"    # more than one customer may hold at once
UNKNOWN_TICKET = "unknown_ticket"
PRICE_CHANGED = "price_changed"
RESERVATION_RELEASED = "reservation_released"
# The inventory's other answers.
ALREADY_CONFIRMED = "already_confirmed"
TICKET_EXISTS = "ticket_exists"
TICKET_NOT_FOUND = "ticket_not_found"
RESERVATION_NOT_FOUND = "reservation_not_found"
TOO_MANY_IDS = "too_many_ids"

# The order service.
ORDER_NOT_FOUND = "order_not_found"
NOT_THE_CATALOGUE = "not_the_catalogue"
IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
CONFLICTING_OUTCOME = "conflicting_outcome"
RATE_LIMITED = "rate_limited"

# The payment service.
PAYMENT_NOT_FOUND = "not_found"
NOT_PENDING = "not_pending"
ORDER_IDS = "order_ids"               # none, or more orders than one call may name
