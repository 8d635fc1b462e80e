"""How the world reaches the payment service: the HTTP API and the outbox relay."""
