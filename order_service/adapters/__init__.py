"""The order service's edges to the outside: its database and the saga's broker."""
