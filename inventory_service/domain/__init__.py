"""Tickets, reservations and their rules, in plain Python (no framework imports)."""
