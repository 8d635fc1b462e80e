"""Each step's retry policy as the environment sets it: the numbers its declaration gives,
unless `SAGA_<STEP>_*` or `STEP_*` say otherwise (tests and demos shorten them without touching
the code). The orchestrator's other knobs are read where they are used, straight from their
declarations in `glastonbury.settings`.
"""

from __future__ import annotations

from dataclasses import replace

from glastonbury import settings
from orchestrator.domain.steps import RetryPolicy, StepDeclaration


def retry_policy(step: StepDeclaration) -> RetryPolicy:
    """The step's declared retry policy, with the numbers `SAGA_<STEP>_*` or `STEP_*` set."""
    declared = step.retry
    assert declared is not None, f"{step.name} is a wait, not a task: it is never retried"
    max_attempts = settings.step_value(step.name, "MAX_ATTEMPTS")
    first_delay = settings.step_value(step.name, "RETRY_DELAY")
    max_delay = settings.step_value(step.name, "RETRY_MAX_DELAY")
    return replace(declared,
                   max_attempts=int(max_attempts) if max_attempts else declared.max_attempts,
                   first_delay=float(first_delay) if first_delay else declared.first_delay,
                   max_delay=float(max_delay) if max_delay else declared.max_delay)
