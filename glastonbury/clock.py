"""The one clock of every part: aware UTC datetimes (what the tables store and the APIs show)."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Now, in UTC, time zone attached."""
    return datetime.now(UTC)
