"""The relay as the stack runs it: a process that publishes decisions and stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from decimal import Decimal

from glastonbury.db import make_engine
from glastonbury.migrate import upgrade
from payment_service.adapters.tables import SCHEMA
from payment_service.service_layer import services

from .conftest import new_id, uow
from .test_outbox import consume


def test_the_relay_process_publishes_a_decision_and_stops_cleanly_on_sigterm(
        tmp_path, kafka_servers):
    database_url = f"sqlite:///{tmp_path / 'payment.db'}"
    topic = f"payment.results.{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PAYMENT_DATABASE_URL": database_url, "PAYMENT_RESULTS_TOPIC": topic,
           "KAFKA_BOOTSTRAP_SERVERS": ",".join(kafka_servers)}
    relay = subprocess.Popen([sys.executable, "-m", "payment_service.entrypoints.relay"],
                             env=env, stderr=subprocess.PIPE, text=True)
    try:
        # the API may create the tables before the relay does: both sides must cope
        engine = make_engine(database_url)
        upgrade(engine, SCHEMA)
        order_id = new_id()
        services.request_payment(uow(engine), order_id, new_id(), Decimal("20.00"))
        [record] = consume(kafka_servers, topic, 1)
        assert json.loads(record.value)["orderId"] == order_id
    finally:
        relay.send_signal(signal.SIGTERM)
        try:
            _, log = relay.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            relay.kill()
            raise
    assert relay.returncode == 0, log
    assert f"APPROVED order_id={order_id}" in log
    assert "payment relay stopped" in log
