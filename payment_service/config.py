"""The payment service's settings, read from the environment when an entry point starts.

The shared `glastonbury.settings` holds the topic, partitions, limit and database URL; the
gateway's steering lists, its delay and the relay's poll interval are read here (see the report:
they belong in `glastonbury.settings` next to the others).
"""

from __future__ import annotations

from glastonbury import settings
from payment_service.domain.gateway import GatewayRules, customer_set


def gateway_rules() -> GatewayRules:
    """The simulated gateway's rules as the environment sets them."""
    return GatewayRules(
        hold_customers=customer_set(settings.env("PAYMENT_HOLD_CUSTOMERS", "")),
        decline_customers=customer_set(settings.env("PAYMENT_DECLINE_CUSTOMERS", "")),
        decline_above=settings.payment_decline_above(),
        decision_delay_s=settings.env_float("PAYMENT_DECISION_DELAY", 0.0),
    )


def relay_poll_interval() -> float:
    """Seconds the relay sleeps when a pass found nothing to do, unless the payment API nudges
    it first (a new payment): its catch-up poll, for nudges lost and decisions delayed."""
    return settings.env_float("PAYMENT_RELAY_POLL_INTERVAL", 0.25)
