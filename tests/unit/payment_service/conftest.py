"""Payments built for the domain tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from payment_service.domain.model import Payment, new_payment

REQUESTED_AT = datetime(2025, 6, 25, 12, 0, tzinfo=UTC)
CUSTOMER = "e081ad0f-f83e-4f81-b2d7-23655ac04b8a"
ORDER = "5b0b5c0e-6a64-4a8b-9d38-3a4e1f1b2c3d"


@pytest.fixture
def pending() -> Payment:
    """A PENDING payment of 200.00 for one order."""
    return new_payment(ORDER, CUSTOMER, Decimal("200.00"), REQUESTED_AT)
