"""The payment service's settings, read from the environment when an entry point starts.

Each is declared, with its default and doc, in `glastonbury.settings`.
"""

from __future__ import annotations

from glastonbury import settings
from payment_service.domain.gateway import GatewayRules, customer_set


def gateway_rules() -> GatewayRules:
    """The simulated gateway's rules as the environment sets them."""
    return GatewayRules(
        hold_customers=customer_set(settings.PAYMENT_HOLD_CUSTOMERS.text()),
        decline_customers=customer_set(settings.PAYMENT_DECLINE_CUSTOMERS.text()),
        decline_above=settings.PAYMENT_DECLINE_ABOVE.decimal(),
        decision_delay_s=settings.PAYMENT_DECISION_DELAY.number(),
    )


def relay_poll_interval() -> float:
    """Seconds the relay sleeps when a pass found nothing to do, unless the payment API nudges
    it first (a new payment): its catch-up poll, for nudges lost and decisions delayed."""
    return settings.PAYMENT_RELAY_POLL_INTERVAL.number()
