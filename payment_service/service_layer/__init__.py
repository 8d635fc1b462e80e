"""The payment service's use cases, each in its own transaction."""
