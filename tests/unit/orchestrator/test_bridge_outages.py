"""The Kafka bridge keeps running through a broker outage (found by `make chaos`: a bridge cut
off from Kafka died on kafka-python's KafkaConnectionError, and payment results waited for the
next restart)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from kafka.errors import KafkaConnectionError

from orchestrator.entrypoints import payment_results_bridge
from orchestrator.entrypoints.payment_results_bridge import PaymentResultsBridge
from orchestrator.service_layer.parts import Parts


class UnreachableBroker:
    """A consumer whose broker is gone, as kafka-python's is while the connection is cut."""

    def __init__(self) -> None:
        self.polls = 0

    def poll(self, timeout_ms: int) -> Any:
        self.polls += 1
        raise KafkaConnectionError("socket disconnected")


def test_a_bridge_whose_broker_is_unreachable_waits_and_polls_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(payment_results_bridge, "BROKER_RETRY_S", 0.01, raising=False)
    bridge = PaymentResultsBridge(servers=["127.0.0.1:9"], signing_key="key",
                                  parts=cast(Parts, SimpleNamespace(payments=None)))
    consumer = UnreachableBroker()
    bridge.consumer = consumer
    bridge.poll_once()
    bridge.poll_once()
    assert consumer.polls == 2
