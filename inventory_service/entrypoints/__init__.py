"""The ways in: the Flask HTTP API."""
