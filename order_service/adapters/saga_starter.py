"""Starting an order's saga: the Celery task `saga.start`, sent by name to the orchestrator."""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from celery import Celery  # type: ignore[import-untyped]

from glastonbury.contracts import tasks
from glastonbury.celery_apps import broker_settings
from glastonbury.signing import signed

log = logging.getLogger(__name__)


# A customer waits on this send: with Redis down, give up within about two seconds and let
# the orchestrator's reconciler start the saga of the order left PENDING.
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2,
                        "interval_max": 0.2}
SENDER_SETTINGS = {
    "broker_connection_timeout": 1,
    "broker_transport_options": {"socket_connect_timeout": 1, "socket_timeout": 2},
    "task_publish_retry": True,
    "task_publish_retry_policy": PUBLISH_RETRY_POLICY,
}


class SagaStarter(Protocol):
    """Something that starts the saga of a stored order; it must never raise."""

    def start(self, order_message: dict[str, Any]) -> None: ...


class CelerySagaStarter:
    """Sends `saga.start(order_message)` through Redis, signed with `signing_key` (the
    orchestrator believes no order message it did not sign); a failure is logged, never
    raised."""

    def __init__(self, broker_url: str, signing_key: str):
        if not signing_key:
            raise ValueError("an order message must be signed: no signing key")
        self.broker_url = broker_url
        self.signing_key = signing_key
        self._app: Celery | None = None
        self._lock = threading.Lock()

    def start(self, order_message: dict[str, Any]) -> None:
        """Send the task; if the broker cannot take it, log and carry on (the order is stored)."""
        try:
            # Flower shows "order <id>" as the task's args (and Celery skips a repr of it all).
            celery = self._celery()
            celery.send_task(tasks.START, args=[signed(order_message, self.signing_key)],
                             argsrepr=f"order {order_message.get('orderId')}",
                             # The orchestrator's error callback, linked to the start as to
                             # its every chain: if the start fails for good, it turns the saga
                             # back there (it runs inline in the orchestrator's worker).
                             link_error=celery.signature(tasks.ON_STEP_FAILED))
        except Exception:  # any failure: the order is committed and the reconciler covers it
            log.warning("could not start the saga of order %s; the reconciler will",
                        order_message.get("orderId"), exc_info=True)

    def _celery(self) -> Celery:
        # Created on first use, so that importing or creating the app touches no broker.
        with self._lock:
            if self._app is None:
                app = Celery("order_service", set_as_current=False)
                app.conf.update(broker_settings(self.broker_url), **SENDER_SETTINGS)
                self._app = app
            return self._app
