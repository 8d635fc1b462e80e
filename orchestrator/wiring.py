"""Which store and which service clients the orchestrator uses, built once per process.

Built lazily, never at import: a forked Celery worker process opens its own connections.
Tests replace them with `use(...)`.
"""

from __future__ import annotations

import os
from typing import Any

from glastonbury import settings
from orchestrator.adapters.services import InventoryClient, OrderClient, PaymentClient
from orchestrator.adapters.store import SagaStore

_parts: dict[str, Any] = {}
_owner_pid: int | None = None


def _part(name: str, build: Any) -> Any:
    global _owner_pid
    if _owner_pid != os.getpid():  # after a fork, connections of the parent are not ours
        _parts.clear()
        _owner_pid = os.getpid()
    if name not in _parts:
        _parts[name] = build()
    return _parts[name]


def store() -> SagaStore:
    return _part("store", lambda: SagaStore.connect(settings.database_url("orchestrator")))


def inventory() -> InventoryClient:
    return _part("inventory", InventoryClient)


def payments() -> PaymentClient:
    return _part("payments", PaymentClient)


def orders() -> OrderClient:
    return _part("orders", OrderClient)


def use(**parts: Any) -> None:
    """Replace parts (store=..., inventory=...) in this process, for tests."""
    global _owner_pid
    _owner_pid = os.getpid()
    _parts.update(parts)


def reset() -> None:
    _parts.clear()
