"""The HTTP API's request body and response shapes (camelCase, as the contract writes them)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from glastonbury.json_schema import TimeText, UuidText
from glastonbury.contracts.money import PAYMENT_AMOUNT_MAX
from glastonbury.web import STORABLE_TEXT
from payment_service.domain import model as domain
from payment_service.domain.model import Decision, PaymentStatus

# Fits the NUMERIC(14, 2) column on every backend.
MAX_AMOUNT = PAYMENT_AMOUNT_MAX
MAX_ORDERS_ASKED = 100   # ids in one `GET /payments?orderId=...&orderId=...`


class PaymentRequest(BaseModel):
    """`POST /payments`: unknown fields are ignored."""

    # The brief's order's payment, as the payment step asks it.
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "orderId": "5f0c6f9e-3a55-4c1e-9d2b-7f3a2c1e9b40",
        "customerId": "e081ad0f-f83e-4f81-b2d7-23655ac04b8a", "amount": 200.00}]})

    orderId: uuid.UUID
    customerId: uuid.UUID
    # The rule as the document shows it (and pydantic checks after `_positive_money`, which
    # refuses first, in its own words).
    amount: Decimal = Field(gt=0, le=MAX_AMOUNT, decimal_places=2,
                            description="At most 2 decimals.")

    @field_validator("orderId", "customerId", mode="before")
    @classmethod
    def _uuid_text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError("must be a UUID string")  # noqa: TRY004 - pydantic wants ValueError
        return value

    @field_validator("amount", mode="before")
    @classmethod
    def _positive_money(cls, value: Any) -> Decimal:
        # bool is an int in Python, but true is not an amount; a string is not a JSON number.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("must be a JSON number")  # noqa: TRY004 - pydantic wants ValueError
        amount = Decimal(str(value))
        if not amount.is_finite() or amount <= 0:
            raise ValueError("must be a number greater than 0")
        if amount > MAX_AMOUNT:
            raise ValueError(f"must be at most {MAX_AMOUNT}")
        if amount != amount.quantize(Decimal("0.01")):
            raise ValueError("must have at most 2 decimals")
        return amount


class ManualDecision(BaseModel):
    """`POST /payments/{orderId}/decide`: what the simulated gateway decides by hand."""

    status: Literal["APPROVED", "DECLINED"]
    reason: Annotated[str, Field(max_length=500), STORABLE_TEXT] | None = None

    def decision(self) -> Decision:
        return Decision(PaymentStatus(self.status),
                        self.reason or (None if self.status == "APPROVED" else "declined by hand"))


class PaymentAcknowledgement(BaseModel):
    """The answer to a payment request: accepted, or the order's payment whatever its status."""

    paymentId: UuidText
    orderId: UuidText
    status: PaymentStatus


class Payment(BaseModel):
    """A payment as the API shows it; amounts are JSON numbers."""

    paymentId: UuidText
    orderId: UuidText
    customerId: UuidText | None = Field(description="Null for a CANCELLED tombstone.")
    amount: float | None = Field(description="Null for a tombstone.")
    status: PaymentStatus
    reason: str | None
    createdAt: TimeText
    decidedAt: TimeText | None


class PaymentList(BaseModel):
    """`GET /payments`: those of the orders named that exist."""

    payments: list[Payment]


def acknowledgement(payment: domain.Payment) -> dict[str, Any]:
    """The answer to a payment request (`PaymentAcknowledgement`)."""
    return PaymentAcknowledgement(paymentId=payment.payment_id, orderId=payment.order_id,
                                  status=payment.status).model_dump(mode="json")


def payment_view(payment: domain.Payment) -> dict[str, Any]:
    """A payment as `GET /payments/{orderId}` shows it (`Payment`)."""
    return Payment(
        paymentId=payment.payment_id,
        orderId=payment.order_id,
        customerId=payment.customer_id,
        amount=float(payment.amount) if payment.amount is not None else None,
        status=payment.status,
        reason=payment.reason,
        createdAt=payment.created_at.isoformat(),
        decidedAt=payment.decided_at.isoformat() if payment.decided_at else None,
    ).model_dump(mode="json")
