"""The order service's use cases, each one transaction."""
