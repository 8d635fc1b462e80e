"""The orchestrator's knobs: time-outs, retries, thresholds. All from the environment.

Tests and demos shorten them (seconds instead of minutes) without touching the code.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from glastonbury.settings import env_float, env_int


def payment_result_timeout() -> float:
    """Seconds a saga waits for its payment result before it asks the payment service."""
    return env_float("PAYMENT_RESULT_TIMEOUT", 300.0)


def stuck_after() -> float:
    """Seconds without progress after which the reconciler drives a saga on."""
    return env_float("SAGA_STUCK_AFTER", 60.0)


def reconcile_interval() -> float:
    return env_float("SAGA_RECONCILE_INTERVAL", 5.0)


def max_drives() -> int:
    """How often the reconciler re-drives one saga before parking it for a person."""
    return env_int("SAGA_MAX_DRIVES", 10)


def step_attempt_limit() -> int:
    """Attempts at one step, across re-deliveries and re-drives, before it is parked."""
    return env_int("SAGA_STEP_ATTEMPT_LIMIT", 25)


def visibility_timeout() -> int:
    """Seconds before Redis hands an unacknowledged task (its worker died) to another worker."""
    return env_int("CELERY_VISIBILITY_TIMEOUT", 300)


@dataclass(frozen=True)
class RetryPolicy:
    """How a step retries technical failures: exponential back-off with jitter, bounded."""

    max_attempts: int
    first_delay: float
    max_delay: float

    @classmethod
    def for_step(cls, step: str) -> RetryPolicy:
        """`SAGA_<STEP>_MAX_ATTEMPTS` etc. override the `STEP_*` defaults for one step."""
        prefix = f"SAGA_{step.upper()}_"
        return cls(
            max_attempts=env_int(prefix + "MAX_ATTEMPTS", env_int("STEP_MAX_ATTEMPTS", 5)),
            first_delay=env_float(prefix + "RETRY_DELAY", env_float("STEP_RETRY_DELAY", 1.0)),
            max_delay=env_float(prefix + "RETRY_MAX_DELAY",
                                env_float("STEP_RETRY_MAX_DELAY", 30.0)),
        )

    def delay(self, retries_so_far: int) -> float:
        """Seconds before the next attempt: doubling, capped, with jitter over its upper half."""
        ceiling = min(self.max_delay, self.first_delay * 2 ** retries_so_far)
        return random.uniform(ceiling / 2, ceiling)
