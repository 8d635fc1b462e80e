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
from collections import Counter
from typing import Any

from kafka.errors import CommitFailedError, KafkaError
from sqlalchemy.exc import DataError, IntegrityError
from kafka.structs import OffsetAndMetadata

from glastonbury import logs, settings, tracing
from glastonbury.auth import secret
from glastonbury.process import tune_garbage_collector
from glastonbury.kafka import is_signed, make_consumer, make_producer, wait_for_topics
from orchestrator.adapters import counters
from orchestrator.adapters.step_queue import CeleryDispatch
from orchestrator.bootstrap import bootstrap
from orchestrator.domain.model import InvalidMessage, PaymentDecided
from orchestrator.domain.ports import PaymentRecord
from orchestrator.entrypoints.celery_app import app
from orchestrator.service_layer.parts import Parts
from orchestrator.service_layer.runner import record_payment_results

log = logging.getLogger("orchestrator.bridge")
GROUP_ID = "orchestrator-bridge"
BROKER_RETRY_S = 1.0   # the pause before reading again when the broker is unreachable


class PaymentResultsBridge:
    """Consumes payment results and hands each one to the saga."""

    def __init__(self, servers: list[str] | None = None, signing_key: str | None = None,
                 parts: Parts | None = None):
        self.servers = servers or settings.kafka_bootstrap_servers()
        self.topic = settings.PAYMENT_RESULTS_TOPIC.text()
        self.dead_letter_topic = settings.payment_results_dead_letter_topic()
        self.signing_key = (signing_key if signing_key is not None
                            else secret("PAYMENT_RESULTS_SIGNING_KEY"))
        self.parts = parts or bootstrap(dispatch=CeleryDispatch(app))
        self.payments = self.parts.payments
        self.parked = 0   # messages put on the dead-letter topic since start
        self.running = True

    def run(self) -> None:
        if not self.signing_key:
            raise SystemExit("PAYMENT_RESULTS_SIGNING_KEY is not set: the bridge believes only "
                             "payment results the payment relay signed with it")
        wait_for_topics(self.servers, {self.topic: settings.PAYMENT_RESULTS_PARTITIONS.integer(),
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
        try:
            batch = self.consumer.poll(timeout_ms=timeout_ms)
        except KafkaError as error:
            # The broker is unreachable (restarting, the network cut): kafka-python raises
            # from poll instead of waiting for it. Nothing was read; the consumer reconnects
            # on the next poll.
            log.warning("payment results not read, the broker is unreachable: %s", error)
            time.sleep(BROKER_RETRY_S)
            return
        if not batch:
            return
        try:
            self.handle([record for records in batch.values() for record in records])
        except Exception:
            # The database, Redis or the payment service is down: keep the offsets, read these
            # records again later.
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
        except KafkaError as error:
            # The broker went away after the results were stored: they are read again and,
            # for the same reason, change nothing.
            log.warning("offsets not committed, the broker is unreachable: %s", error)

    def handle(self, records: list[Any]) -> None:
        """Store what a poll's messages mean, in one transaction; park every message that is not
        a payment result the payment service stands by, with the reason, and go on.

        Believed is a message that the payment relay signed, that reads as a payment result,
        and that the payment service's own record of the order confirms (status, payment id,
        amount); the saga then checks the amount against the order's total. Traced, each
        message is processed in a span of the trace its relay header names.
        """
        if tracing.enabled:  # tracing off: this one check
            with tracing.consuming(self.topic, records) as traces:
                return self._handle(records, traces)
        return self._handle(records, {})

    def _handle(self, records: list[Any], traces: dict[int, str]) -> None:
        results: dict[int, PaymentDecided] = {}
        parked: list[tuple[Any, str]] = []   # each send's future, and the kind of dead letter
        for index, record in enumerate(records):
            raw = record.value or b""
            if not is_signed(self.signing_key, raw, record.headers):
                parked.append(self.park(raw, "not signed by the payment relay", "unsigned"))
                continue
            try:
                results[index] = PaymentDecided.from_message(json.loads(raw),
                                                             traces.get(index))
            # JSONDecodeError is a ValueError; brackets nested too deep overflow the parser.
            except (ValueError, RecursionError, InvalidMessage) as error:
                parked.append(self.park(raw, str(error), "unreadable"))
        if results:
            # ServiceUnavailable (the payment service is down) propagates: read them again.
            records_by_order = self.payments.records([r.order_id for r in results.values()])
            for index, result in list(results.items()):
                problem = disagreement(result, records_by_order.get(result.order_id))
                if problem:
                    parked.append(self.park(records[index].value, problem, "contradicted",
                                            result.order_id))
                    del results[index]
        refused = dict(self.store(results))
        for index, result in results.items():
            if index in refused:
                parked.append(self.park(records[index].value, refused[index], "refused",
                                        result.order_id))
            else:
                log.info("payment result %s stored", result.status,
                         extra={"order_id": result.order_id})
        for sent, _ in parked:
            sent.get(timeout=30)
        if parked:
            counters.count_dead_letters(self.parts.engine,
                                        Counter(kind for _, kind in parked))

    def store(self, results: dict[int, PaymentDecided]) -> list[tuple[int, str]]:
        """Record the results in one transaction; the index and reason of each refused one.

        A message the database refuses (a constraint, a value it cannot hold) is found by
        storing the batch one message at a time, and refused: it never blocks its partition.
        An outage (OperationalError) propagates and the whole poll is read again.
        """
        if not results:
            return []
        by_result = {id(result): index for index, result in results.items()}
        try:
            refused = record_payment_results(self.parts, results.values())
        except (IntegrityError, DataError):
            if len(results) == 1:
                (index,) = results
                return [(index, "the saga store refused it")]
            return [refusal for index, result in results.items()
                    for refusal in self.store({index: result})]
        return [(by_result[id(result)], problem) for result, problem in refused]

    def park(self, raw: bytes | None, problem: str, kind: str,
             order_id: str | None = None) -> tuple[Any, str]:
        """Put a message on the dead-letter topic, with the reason in a header; the send's
        future (the caller waits for the broker's acknowledgement) and the kind of dead letter
        (one of the store's DEAD_LETTER_KINDS, which the metrics count). `order_id`: the order
        the message names, once it reads as a result (an unread message names none for sure)."""
        self.parked += 1
        log.error("payment result parked on %s (%d so far): %s", self.dead_letter_topic,
                  self.parked, problem, extra={"order_id": order_id})
        headers = [("error", problem.encode()[:1000])]
        sent = self.producer.send(self.dead_letter_topic, value=raw or b"", headers=headers)
        return sent, kind

    def stop(self, *_: Any) -> None:
        self.running = False


def disagreement(result: PaymentDecided, record: PaymentRecord | None) -> str | None:
    """Why the payment service's record does not confirm a result, or None if it does."""
    if record is None:
        return f"the payment service has no payment for order {result.order_id}"
    if record.status != result.status:
        return f"the payment service's record says {record.status}, not {result.status}"
    if record.payment_id != result.payment_id:
        return f"the payment service's payment is {record.payment_id}, not {result.payment_id}"
    if record.amount != result.amount:
        return f"the payment service's record is for {record.amount}, not {result.amount}"
    return None


def main() -> None:
    logs.configure("bridge")
    tracing.configure("bridge")
    bridge = PaymentResultsBridge()
    signal.signal(signal.SIGTERM, bridge.stop)
    signal.signal(signal.SIGINT, bridge.stop)
    tune_garbage_collector()
    bridge.run()


if __name__ == "__main__":
    main()
