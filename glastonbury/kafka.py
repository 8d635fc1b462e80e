"""Kafka plumbing shared by the payment relay and the orchestrator's bridge.

The same code runs against Apache Kafka (production) and Tansu (local): only the bootstrap
servers differ.
"""

from __future__ import annotations

import logging
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from glastonbury import settings
from glastonbury.signing import is_signature, signature

log = logging.getLogger(__name__)

# The header carrying a payment result's HMAC-SHA256 (hex) under PAYMENT_RESULTS_SIGNING_KEY:
# the bridge believes only what the payment relay signed.
SIGNATURE_HEADER = "signature"

# Tansu and Kafka alike: with the client's default 10 s session a group join takes ~20 s.
CONSUMER_SESSION_TIMEOUT_MS = 6000
CONSUMER_HEARTBEAT_INTERVAL_MS = 1000


def wait_for_topics(servers: list[str], topics: dict[str, int], deadline_s: float = 60) -> None:
    """Create the topics (name -> partitions) that are missing, waiting for the broker to answer."""
    give_up_at = time.monotonic() + deadline_s
    while True:
        try:
            _create_missing_topics(servers, topics)
            return
        except KafkaError as error:
            if time.monotonic() > give_up_at:
                raise
            log.info("waiting for Kafka at %s (%s)", ",".join(servers), error)
            time.sleep(0.5)


def _create_missing_topics(servers: list[str], topics: dict[str, int]) -> None:
    admin = KafkaAdminClient(bootstrap_servers=servers, client_id="glastonbury-admin",
                             **settings.kafka_security())
    try:
        missing = set(topics) - set(admin.list_topics())
        if missing:
            try:
                admin.create_topics([NewTopic(name, topics[name], 1) for name in sorted(missing)])
            except TopicAlreadyExistsError:
                pass  # another process created it between our look and our request
    finally:
        admin.close()


def make_producer(servers: list[str]) -> KafkaProducer:
    """A producer that waits for the broker's acknowledgement of every message."""
    return KafkaProducer(bootstrap_servers=servers, acks="all", retries=5, linger_ms=0,
                         client_id="glastonbury-producer", **settings.kafka_security())


def make_consumer(servers: list[str], group_id: str, *topics: str) -> KafkaConsumer:
    """A group consumer that commits only what the caller says it has stored."""
    return KafkaConsumer(
        *topics,
        # How long the broker may hold a fetch that finds nothing new. Apache Kafka answers a
        # held fetch as soon as a message arrives; Tansu (the local broker) only when the wait
        # ends, so the local stack shortens it (devtools.devstack).
        fetch_max_wait_ms=settings.KAFKA_FETCH_MAX_WAIT_MS.integer(),
        bootstrap_servers=servers,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=CONSUMER_SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=CONSUMER_HEARTBEAT_INTERVAL_MS,
        max_poll_records=100,
        **settings.kafka_security(),
    )


def is_signed(key: str, value: bytes, headers: list[tuple[str, bytes]] | None) -> bool:
    """Whether the message carries the signature of its value under `key`."""
    return is_signature(key, value, dict(headers or []).get(SIGNATURE_HEADER))


def signature_header(key: str, value: bytes) -> tuple[str, bytes]:
    """The header that signs a message's value under `key`."""
    return SIGNATURE_HEADER, signature(key, value).encode()
