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

from kafka.errors import CommitFailedError
from kafka.structs import OffsetAndMetadata

from glastonbury import settings
from glastonbury.process import tune_garbage_collector
from glastonbury.kafka import make_consumer, make_producer, wait_for_topics
from orchestrator.domain.model import InvalidMessage, PaymentDecided
from orchestrator.saga import record_payment_results

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
        if not batch:
            return
        try:
            self.handle([record.value for records in batch.values() for record in records])
        except Exception:
            # The database or Redis is down: keep the offsets, read these records again later.
            log.exception("%d payment results not stored; will retry",
                          sum(len(records) for records in batch.values()))
            for partition, records in batch.items():
                self.consumer.seek(partition, records[0].offset)
            time.sleep(1)
            return
        # Committed only now that the state every message of the poll caused is stored.
        try:
            self.consumer.commit({partition: OffsetAndMetadata(records[-1].offset + 1, "", -1)
                                  for partition, records in batch.items()})
        except CommitFailedError as error:
            # The group rebalanced meanwhile: the partition's new owner reads these messages
            # again, and their ids (stored with what they caused) make them change nothing.
            log.warning("offsets not committed, the group rebalanced: %s", error)

    def handle(self, raws: list[bytes]) -> None:
        """Store what a poll's messages mean, in one transaction; park the unreadable ones."""
        results, parked = [], []
        for raw in raws:
            try:
                results.append(PaymentDecided.from_message(json.loads(raw)))
            # JSONDecodeError is a ValueError; brackets nested too deep overflow the parser.
            except (ValueError, RecursionError, InvalidMessage) as error:
                parked.append(self.park(raw, str(error)))
        for sent in parked:
            sent.get(timeout=30)
        if results:
            record_payment_results(results)

    def park(self, raw: bytes, problem: str) -> Any:
        """Put an unreadable message on the dead-letter topic, with the reason in a header;
        the send's future (the caller waits for the broker's acknowledgement)."""
        log.error("unreadable payment result parked on %s: %s", self.dead_letter_topic, problem)
        headers = [("error", problem.encode()[:1000])]
        return self.producer.send(self.dead_letter_topic, value=raw or b"", headers=headers)

    def stop(self, *_: Any) -> None:
        self.running = False


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    bridge = PaymentResultsBridge()
    signal.signal(signal.SIGTERM, bridge.stop)
    signal.signal(signal.SIGINT, bridge.stop)
    tune_garbage_collector()
    bridge.run()


if __name__ == "__main__":
    main()
