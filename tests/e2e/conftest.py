"""The whole stack, started once for the end-to-end tests, driven over HTTP and Kafka."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from glastonbury.kafka import make_producer, signature_header
from orchestrator.adapters import saga_list
from orchestrator.adapters.repository import connect
from tests.e2e.stack import Stack, wait_for

# Browser tests drive Debian's chromium (.ci/run installs it) through playwright.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
HELD_CUSTOMER = "00000000-0000-4000-8000-0000000000ed"   # the gateway never decides for them
BRIEF_CUSTOMER = "e081ad0f-f83e-4f81-b2d7-23655ac04b8a"
DAY_ONE = "3852cb18-9c19-4326-ac77-a1a0264bd98c"
TERMINAL = {"COMPLETED", "REJECTED", "PAYMENT_FAILED"}


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("stack")
    running = Stack(workdir, PAYMENT_HOLD_CUSTOMERS=HELD_CUSTOMER,
                    SAGA_REQUEST_PAYMENT_MAX_ATTEMPTS="10",
                    SAGA_REQUEST_PAYMENT_RETRY_DELAY="0.5")
    running.start()
    try:
        running.wait_until_ready()
        yield running
    finally:
        running.stop()
        print(f"\nstack logs kept in {running.logs}")


class Client:
    """What a user of the stack does over HTTP (an operator with the admin token included),
    plus a look into the saga store and onto the payment results topic."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.admin = {"Authorization": f"Bearer {stack.env['ADMIN_TOKEN']}"}
        # Only to read what the saga did at a service, as the orchestrator can.
        self.orchestrator = {"Authorization": f"Bearer {stack.env['ORCHESTRATOR_TOKEN']}"}

    def place_order(self, lines: list[tuple[str, float, int]], customer: str = BRIEF_CUSTOMER,
                    amount: float = 10.5) -> str:
        response = self.post_order(lines, customer, amount)
        assert response.status_code == 202, response.text
        return response.json()["id"]

    def post_order(self, lines: list[tuple[str, float, int]], customer: str = BRIEF_CUSTOMER,
                   amount: float = 10.5) -> requests.Response:
        items = [{"id": ticket, "name": "ticket", "amount": price, "quantity": quantity}
                 for ticket, price, quantity in lines]
        return requests.post(f"{self.stack.url('order')}/orders", timeout=10,
                             json={"customerId": customer, "amount": amount, "items": items})

    def a_paid_and_a_declined_order(self) -> dict[str, str]:
        """The brief's order and one the gateway declines (1,200.00), each placed and ended:
        their ids by how they ended (COMPLETED, PAYMENT_FAILED)."""
        completed = self.place_order([(DAY_ONE, 200.0, 1)])
        declined = self.place_order([(self.new_ticket(10, price=400.0), 400.0, 3)])
        return {self.wait_until_terminal(order)["status"]: order
                for order in (completed, declined)}

    def order(self, order_id: str, wait_s: float = 0) -> dict[str, Any]:
        """The order as it stands, or once it ended within `wait_s` seconds (`?wait=`)."""
        return requests.get(f"{self.stack.url('order')}/orders/{order_id}", timeout=wait_s + 10,
                            params={"wait": wait_s} if wait_s else None).json()

    def wait_until_terminal(self, order_id: str, timeout_s: float = 30) -> dict[str, Any]:
        """The order once it ended, followed as a client should: with the long-poll `?wait=`."""
        return wait_for(lambda: (o := self.order(order_id, wait_s=5))["status"] in TERMINAL and o,
                        timeout_s, f"order {order_id} terminal")

    def new_ticket(self, available: int, price: float = 10.0, name: str = "e2e",
                   **limits: int) -> str:
        """A ticket of its own; with the catalogue's default limits (6 an order, 6 a customer)
        unless `maxPerOrder` or `maxPerCustomer` say otherwise."""
        ticket = str(uuid.uuid4())
        response = requests.post(f"{self.stack.url('inventory')}/tickets", timeout=10,
                                 headers=self.admin, json={"id": ticket, "name": name,
                                                           "available": available,
                                                           "price": price, **limits})
        assert response.status_code == 201, response.text
        return ticket

    def available(self, ticket: str) -> int:
        response = requests.get(f"{self.stack.url('inventory')}/tickets/{ticket}", timeout=10)
        return response.json()["available"]

    def reservation(self, order_id: str) -> str | None:
        response = requests.get(f"{self.stack.url('inventory')}/reservations/{order_id}",
                                timeout=10, headers=self.admin)
        return response.json()["status"] if response.status_code == 200 else None

    def payment(self, order_id: str) -> str | None:
        response = requests.get(f"{self.stack.url('payment')}/payments/{order_id}", timeout=10,
                                headers=self.admin)
        return response.json()["status"] if response.status_code == 200 else None

    def decide_payment(self, order_id: str, status: str) -> None:
        """The simulated gateway decides a payment it holds (the admin's manual decision): a
        real result, published by the payment relay like any other."""
        response = requests.post(f"{self.stack.url('payment')}/payments/{order_id}/decide",
                                 json={"status": status}, headers=self.admin, timeout=10)
        assert response.status_code == 200, response.text

    def saga(self, order_id: str):  # type: ignore[no-untyped-def]
        engine = connect(f"sqlite:///{self.stack.env['GLASTONBURY_VAR']}/orchestrator.db")
        try:
            return saga_list.timeline(engine, order_id)
        finally:
            engine.dispose()

    def published_result(self, order_id: str, timeout_s: float = 20) -> Any:
        """The payment relay's message about the order, read from the payment results topic."""
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=[self.stack.env["KAFKA_BOOTSTRAP_SERVERS"]],
                                 enable_auto_commit=False)
        try:
            partitions = [TopicPartition("payment.results", p)
                          for p in consumer.partitions_for_topic("payment.results") or ()]
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            found: list[Any] = []

            def read() -> bool:
                for records in consumer.poll(timeout_ms=200).values():
                    found.extend(r for r in records if r.key == order_id.encode())
                return bool(found)

            wait_for(read, timeout_s, f"the payment result of order {order_id}")
            return found[0]
        finally:
            consumer.close()

    def publish_payment_result(self, order_id: str, status: str, event_id: str | None = None,
                               raw: bytes | None = None, signed_with: str | None = None,
                               headers: list[tuple[str, bytes]] | None = None,
                               payment_id: str | None = None, amount: str = "1.00") -> None:
        """Put a message on the payment results topic: a forgery unless `signed_with` is the
        relay's key (or `headers` are a real message's)."""
        message = {"version": 1, "eventId": event_id or str(uuid.uuid4()), "type": "PaymentDecided",
                   "orderId": order_id, "paymentId": payment_id or str(uuid.uuid4()),
                   "status": status, "reason": None if status == "APPROVED" else "forged",
                   "amount": amount, "decidedAt": "2026-01-01T00:00:00+00:00"}
        value = raw if raw is not None else json.dumps(message).encode()
        if signed_with is not None:
            headers = [signature_header(signed_with, value)]
        producer = make_producer([self.stack.env["KAFKA_BOOTSTRAP_SERVERS"]])
        try:
            producer.send("payment.results", key=order_id.encode(), value=value,
                          headers=headers).get(timeout=30)
        finally:
            producer.close()


def end_offsets(servers: list[str], topic: str, timeout_s: float = 10) -> dict[Any, int]:
    """Each partition's end (the next offset to be written), read from fetch responses.

    Tansu 0.6 answers ListOffsets ("latest", what `KafkaConsumer.end_offsets` asks) with the
    first offset of the last batch written, not the end, once a producer sent several records
    in one batch; the high watermark of a fetch is right.
    """
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False,
                             max_partition_fetch_bytes=1024)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout_s
        while any(consumer.highwater(tp) is None for tp in partitions):
            assert time.monotonic() < deadline, f"no high watermark for {topic}"
            consumer.poll(timeout_ms=200)
        return {tp: consumer.highwater(tp) for tp in partitions}
    finally:
        consumer.close()


@pytest.fixture
def client(stack: Stack) -> Client:
    return Client(stack)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()
