"""Ids as the parts write them to one another: UUIDs in their 8-4-4-4-12 hex form (what the
OpenAPI documents call `format: uuid`). The one parser of an id a part is sent."""

from __future__ import annotations

import re
import uuid
from typing import Any

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def canonical_uuid(value: Any) -> uuid.UUID:
    """`value` as a UUID if it is one in its 8-4-4-4-12 text form; ValueError otherwise (braces,
    `urn:uuid:`, missing hyphens and anything over-long are no id of ours)."""
    if not isinstance(value, str) or not re.fullmatch(UUID_PATTERN, value):
        raise ValueError(f"{value!r} is not a UUID in its 8-4-4-4-12 hex form")
    return uuid.UUID(value)
