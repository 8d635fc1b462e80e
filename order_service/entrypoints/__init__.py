"""How the world reaches the order service: its HTTP API."""
