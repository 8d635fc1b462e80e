"""The Celery configuration the parts share: every app that sends or runs the saga's tasks (the
orchestrator's worker and beat, the order service's sender, the bench's floor) starts from it.

JSON only (the task messages are the published language's, glastonbury.contracts, never a
pickle); on Redis, the transport that reuses one client per channel (glastonbury.redis_transport).
"""

from __future__ import annotations

from typing import Any

from glastonbury.redis_transport import transport_for


def broker_settings(broker_url: str) -> dict[str, Any]:
    """The settings every app of the parts has: its broker, the broker's transport, JSON."""
    return {
        "broker_url": broker_url,
        "broker_transport": transport_for(broker_url),
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
    }

