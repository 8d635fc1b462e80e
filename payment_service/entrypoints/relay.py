"""The payment relay: the simulated gateway decides due payments, the outbox goes to Kafka.

Run it with `python -m payment_service.entrypoints.relay`. It runs until SIGTERM or SIGINT and
outlives a broker or database outage: it logs, backs off and tries again.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from kafka.errors import KafkaError
from sqlalchemy.exc import SQLAlchemyError

from glastonbury import settings
from glastonbury.auth import secret
from glastonbury import logs, tracing
from glastonbury.db import make_engine
from glastonbury.migrate import upgrade
from glastonbury.kafka import wait_for_topics
from glastonbury.process import tune_garbage_collector
from payment_service import config
from payment_service.adapters.kafka_publisher import KafkaPublisher
from payment_service.adapters.relay_wake import RelayNudger, WakeListener
from payment_service.adapters.tables import SCHEMA
from payment_service.domain.gateway import GatewayRules
from payment_service.service_layer import services
from payment_service.service_layer.unit_of_work import SqlAlchemyUnitOfWork, UnitOfWork

log = logging.getLogger("payment_service.relay")

MAX_BACKOFF_S = 5.0
OUTAGES = (KafkaError, SQLAlchemyError, OSError)
T = TypeVar("T")


@dataclass
class Relay:
    """One relay's wiring: where payments live, the gateway's rules and the Kafka side."""

    uow: UnitOfWork
    rules: GatewayRules
    topic: str
    publisher: services.Publisher
    caught_up: bool = True   # the last pass took less than a full batch of either kind
    # What the broker acknowledged in the last pass: the next pass marks it published.
    acknowledged: list[int] = field(default_factory=list)

    def run_once(self) -> int:
        """One pass: decide due payments, publish the outbox; returns the work done."""
        acknowledged, self.acknowledged = self.acknowledged, []
        try:
            done = services.relay_pass(self.uow, self.rules, self.topic, self.publisher,
                                       acknowledged)
        except Exception:
            self.acknowledged = acknowledged   # not marked yet: the next pass marks them
            raise
        for payment in done.decided:
            log.info("payment %s %s%s", payment.payment_id, payment.status.value,
                     f" ({payment.reason})" if payment.reason else "",
                     extra={"order_id": payment.order_id})
        self.acknowledged = done.acknowledged
        self.caught_up = (len(done.decided) < services.DECISION_BATCH
                          and done.sent < services.PUBLISH_BATCH)
        return len(done.decided) + len(done.acknowledged)

    def finish(self) -> None:
        """Mark what the broker acknowledged in the last pass (before the process stops)."""
        services.mark_published(self.uow, self.acknowledged)
        self.acknowledged = []


def run_forever(relay: Relay, stop: threading.Event, poll_interval_s: float,
                on_outage: Callable[[], None] = lambda: None,
                wake: WakeListener | None = None) -> None:
    """Run passes until `stop` is set: when idle, sleep until nudged or the poll is due; on an
    outage back off, call `on_outage`.

    Anything else is a bug and ends the process rather than spinning on it.
    """
    wake = wake or WakeListener(None)
    backoff = poll_interval_s
    while not stop.is_set():
        try:
            relay.run_once()
            # A pass that took less than a full batch left nothing behind: what arrives next
            # nudges the relay (or waits for the poll) instead of costing an empty pass.
            busy = not relay.caught_up
            backoff = poll_interval_s
        except OUTAGES as error:
            log.warning("relay pass failed, retrying in %.1f s: %s", backoff, error)
            stop.wait(backoff)
            backoff = min(max(backoff * 2, 0.1), MAX_BACKOFF_S)
            on_outage()
            continue
        if not busy:
            wake.wait(poll_interval_s)
    try:
        relay.finish()
    except OUTAGES as error:   # they are published; a restart publishes them once more
        log.warning("the last acknowledged messages were not marked: %s", error)


def results_topics() -> dict[str, int]:
    """The topics the relay writes to (name -> partitions), dead letters included."""
    return {settings.PAYMENT_RESULTS_TOPIC.text(): settings.PAYMENT_RESULTS_PARTITIONS.integer(),
            settings.payment_results_dead_letter_topic(): 1}


def retry_until_done(stop: threading.Event, what: str, attempt: Callable[[], T]) -> T | None:
    """`attempt()`'s result once it stops failing with an outage, or None if asked to stop."""
    while not stop.is_set():
        try:
            return attempt()
        except OUTAGES as error:
            log.warning("%s failed, retrying in %.0f s: %s", what, MAX_BACKOFF_S, error)
            stop.wait(MAX_BACKOFF_S)
    return None


def recreate_topics() -> None:
    """Create the topics again if a broker that keeps them in memory only has restarted."""
    try:
        wait_for_topics(settings.kafka_bootstrap_servers(), results_topics(), deadline_s=2)
    except KafkaError:
        pass  # still down; the next pass will say so


def recover_from_outage(publisher: KafkaPublisher) -> None:
    """After a failed pass: the topics again, and a new producer, for the old one may never
    send again if the broker restarted (found by `make chaos`: the relay published nothing
    from Tansu's first restart on, and every saga waited PAYMENT_RESULT_TIMEOUT)."""
    recreate_topics()
    try:
        publisher.reconnect()
    except KafkaError:
        pass  # still down; the next pass will say so


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT, so the current pass ends before the process does."""
    stop = threading.Event()
    nudger = RelayNudger(settings.PAYMENT_RELAY_WAKE_ADDRESS.text())

    def stop_now(*_: object) -> None:
        stop.set()
        nudger.nudge()  # the relay may be asleep waiting for one

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop_now)
    return stop


def main() -> None:
    """Start the relay with the environment's settings and run it until signalled."""
    logs.configure("payment-relay")
    tracing.configure("payment-relay")
    stop = stop_on_signals()
    wake = WakeListener.bind(settings.PAYMENT_RELAY_WAKE_ADDRESS.text())
    engine = make_engine(settings.database_url("payment"))
    servers = settings.kafka_bootstrap_servers()
    publisher = None
    try:
        retry_until_done(stop, "migrating the database", lambda: upgrade(engine, SCHEMA))
        retry_until_done(stop, "creating the topics",
                         lambda: wait_for_topics(servers, results_topics()))
        key = secret("PAYMENT_RESULTS_SIGNING_KEY")
        if not key:
            sys.exit("PAYMENT_RESULTS_SIGNING_KEY is not set: the bridge believes only signed "
                     "payment results")
        publisher = retry_until_done(stop, "connecting to Kafka",
                                     lambda: KafkaPublisher.connect(servers, signing_key=key))
        if publisher is not None:
            relay = Relay(SqlAlchemyUnitOfWork(engine), config.gateway_rules(),
                          settings.PAYMENT_RESULTS_TOPIC.text(), publisher)
            log.info("payment relay started, publishing to %s", relay.topic)
            tune_garbage_collector()
            run_forever(relay, stop, config.relay_poll_interval(),
                        on_outage=partial(recover_from_outage, publisher), wake=wake)
    finally:
        wake.close()
        if publisher is not None:
            publisher.close()
        engine.dispose()
        log.info("payment relay stopped")


if __name__ == "__main__":
    main()
