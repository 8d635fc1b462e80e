"""Hostile messages on the payment results topic: each is parked on the dead-letter topic with
an `error` header naming its problem, and the bridge goes on completing orders."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from kafka import KafkaConsumer, TopicPartition

from tests.e2e.conftest import Client, end_offsets
from tests.e2e.stack import wait_for

pytestmark = pytest.mark.e2e

DLQ = "payment.results.dlq"
# Under the broker's and the producer's 1 MiB default, with room for the dead-letter header.
OVERSIZED_BYTES = 900 * 1024


def payment_result(order_id: str, **changes: object) -> dict[str, object]:
    """A well-formed result for `order_id`, with `changes` applied (None removes a field)."""
    message = {"version": 1, "eventId": str(uuid.uuid4()), "type": "PaymentDecided",
               "orderId": order_id, "paymentId": str(uuid.uuid4()), "status": "APPROVED",
               "reason": None, "amount": "1.00", "decidedAt": "2026-01-01T00:00:00+00:00"}
    message.update(changes)
    return {key: value for key, value in message.items() if value is not None}


def hostile_messages(marker: str) -> dict[str, tuple[bytes, str]]:
    """name -> (the message, a part of the `error` header it must be parked with); each is
    signed with the relay's key, so that what the bridge refuses is what the message says."""
    def encoded(message: object) -> bytes:
        return json.dumps(message).encode()

    return {
        "malformed JSON": (f'{{"orderId": "{marker}", "status": '.encode(), "Expecting value"),
        "not UTF-8": (b'{"orderId": "' + marker.encode() + b'\xff"}', "decode"),
        "an oversized status": (
            encoded(payment_result(marker, status="X" * OVERSIZED_BYTES)),
            "unknown payment status 'XXXX"),
        "status as a number": (encoded(payment_result(marker, status=1)),
                               "unknown payment status 1"),
        "orderId as a list": (encoded({**payment_result(marker), "orderId": [marker]}),
                              "orderId must be a UUID"),
        "no eventId": (encoded({**payment_result(marker), "eventId": None}),
                       "eventId must be a UUID"),
        # Longer than the saga store's VARCHAR(64): refused before anything is stored.
        "an over-long orderId": (encoded(payment_result("9" * 80)), "orderId must be a UUID"),
        "a result for an order without a payment": (
            encoded(payment_result(marker)), f"no payment for order {marker}"),
        "version 2": (encoded(payment_result(marker, version=2)),
                      "unsupported message version 2"),
        "a JSON array": (encoded([payment_result(marker)]),
                         "a payment result must be a JSON object"),
        "a huge number": (encoded(payment_result(marker)).replace(b'"version": 1',
                                                                  b'"version": 1e400'),
                          "unsupported message version inf"),
        "empty": (b"", "Expecting value"),
    }


@pytest.fixture
def dead_letters(client: Client) -> Iterator[KafkaConsumer]:
    """A consumer of the dead-letter topic from its current end (manual assignment, no group)."""
    consumer = KafkaConsumer(bootstrap_servers=[client.stack.env["KAFKA_BOOTSTRAP_SERVERS"]],
                             enable_auto_commit=False, fetch_max_bytes=8 * 1024 * 1024,
                             max_partition_fetch_bytes=4 * 1024 * 1024)
    partition = TopicPartition(DLQ, 0)
    consumer.assign([partition])
    # From the end as it is now, before anything is published (see end_offsets on why not
    # seek_to_end).
    consumer.seek(partition, end_offsets(
        [client.stack.env["KAFKA_BOOTSTRAP_SERVERS"]], DLQ)[partition])
    yield consumer
    consumer.close()


def read_parked(consumer: KafkaConsumer, count: int, timeout_s: float = 60) -> list:
    """The next `count` dead letters, waiting for them with a deadline."""
    parked: list = []

    def enough() -> bool:
        for records in consumer.poll(timeout_ms=500).values():
            parked.extend(records)
        return len(parked) >= count

    wait_for(enough, timeout_s, f"{count} dead letters")
    return parked


def test_hostile_payment_results_are_parked_naming_their_problem_and_the_bridge_goes_on(
        client: Client, dead_letters: KafkaConsumer) -> None:
    marker = str(uuid.uuid4())
    messages = hostile_messages(marker)
    key = client.stack.env["PAYMENT_RESULTS_SIGNING_KEY"]
    for raw, _ in messages.values():
        client.publish_payment_result(marker, "APPROVED", raw=raw, signed_with=key)

    parked = read_parked(dead_letters, len(messages))
    by_value = {bytes(record.value or b""): dict(record.headers) for record in parked}
    for name, (raw, problem) in messages.items():
        assert raw in by_value, f"{name} was not parked"
        error = by_value[raw]["error"].decode()
        assert problem in error, f"{name} parked with {error[:200]!r}"

    ticket = client.new_ticket(3, price=5.0)
    order = client.wait_until_terminal(client.place_order([(ticket, 5.0, 1)]))
    assert order["status"] == "COMPLETED"


def test_the_dead_letter_header_of_an_oversized_message_stays_small(
        client: Client, dead_letters: KafkaConsumer) -> None:
    raw = json.dumps(payment_result(str(uuid.uuid4()), version="V" * OVERSIZED_BYTES)).encode()
    client.publish_payment_result(str(uuid.uuid4()), "APPROVED", raw=raw,
                                  signed_with=client.stack.env["PAYMENT_RESULTS_SIGNING_KEY"])
    (record,) = [r for r in read_parked(dead_letters, 1) if r.value == raw]
    assert len(dict(record.headers)["error"]) <= 1000
