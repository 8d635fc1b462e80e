"""The published language of the parts: what one writes and another reads, declared once.

`messages` (the `saga.start` order message and the payment results on Kafka, with their
version), `statuses` (an order's and a payment's), `tasks` (the Celery task names the order
service and beat send to the orchestrator), `paths` (the services' URL paths, as the Flask apps
route them and the clients call them), `errors` (the codes of the JSON errors, as the handlers
answer them and the OpenAPI documents name them), `money` (amounts as the messages carry them,
and the most one payment can be) and `limits` (what the services store of the text they are
sent). Plain Python: every layer of every service may import it, the domains included.
"""
