"""The Kafka bridge: payment results in, the waiting saga resumed.

`python -m orchestrator.entrypoints.payment_results_bridge` joins the consumer group
`orchestrator-bridge` on the payment results topic. For each message it stores what the result
means (the saga's transition and the message's id, in one transaction) and only then commits the
offset, so a bridge killed at any moment loses nothing and repeats nothing. A message it cannot
read goes to the dead-letter topic and the bridge goes on. Run several: the group shares the
partitions among them.
"""

from __future__ import annotations

import json
import logging
import signal
import time
from typing import Any

from kafka.structs import OffsetAndMetadata, TopicPartition

from glastonbury import settings
from glastonbury.kafka import make_consumer, make_producer, wait_for_topics
from orchestrator.domain.model import InvalidMessage, PaymentDecided
from orchestrator.saga import record_payment_result

log = logging.getLogger("orchestrator.bridge")
GROUP_ID = "orchestrator-bridge"


class PaymentResultsBridge:
    """Consumes payment results and hands each one to the saga."""

    def __init__(self, servers: list[str] | None = None):
        self.servers = servers or settings.kafka_bootstrap_servers()
        self.topic = settings.payment_results_topic()
        self.dead_letter_topic = settings.payment_results_dead_letter_topic()
        self.running = True

    def run(self) -> None:
        wait_for_topics(self.servers, {self.topic: settings.payment_results_partitions(),
                                       self.dead_letter_topic: 1})
        self.consumer = make_consumer(self.servers, GROUP_ID, self.topic)
        self.producer = make_producer(self.servers)
        log.info("bridge consuming %s as group %s", self.topic, GROUP_ID)
        try:
            while self.running:
                self.poll_once()
        finally:
            self.consumer.close()
            self.producer.close()

    def poll_once(self, timeout_ms: int = 500) -> None:
        batch = self.consumer.poll(timeout_ms=timeout_ms)
        for partition, records in batch.items():
            self._process_partition(partition, records)

    def _process_partition(self, partition: TopicPartition, records: list[Any]) -> None:
        stored_up_to = None
        for record in records:
            try:
                self.handle(record.value)
            except Exception:
                # The database or Redis is down: keep the offset, read this record again later.
                log.exception("payment result at %s:%d not stored; will retry",
                              partition, record.offset)
                self.consumer.seek(partition, record.offset)
                time.sleep(1)
                break
            stored_up_to = record.offset
        if stored_up_to is not None:
            # Committed only now that the state every message up to here caused is stored.
            self.consumer.commit({partition: OffsetAndMetadata(stored_up_to + 1, "", -1)})

    def handle(self, raw: bytes) -> None:
        try:
            result = PaymentDecided.from_message(json.loads(raw))
        # JSONDecodeError is a ValueError; brackets nested too deep overflow the parser.
        except (ValueError, RecursionError, InvalidMessage) as error:
            self.park(raw, str(error))
            return
        record_payment_result(result)

    def park(self, raw: bytes, problem: str) -> None:
        """Put an unreadable message on the dead-letter topic, with the reason in a header."""
        log.error("unreadable payment result parked on %s: %s", self.dead_letter_topic, problem)
        headers = [("error", problem.encode()[:1000])]
        sent = self.producer.send(self.dead_letter_topic, value=raw or b"", headers=headers)
        sent.get(timeout=30)

    def stop(self, *_: Any) -> None:
        self.running = False


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    bridge = PaymentResultsBridge()
    signal.signal(signal.SIGTERM, bridge.stop)
    signal.signal(signal.SIGINT, bridge.stop)
    bridge.run()


if __name__ == "__main__":
    main()
