"""How a Kafka client proves who it is: plaintext locally, SASL/SCRAM as compose configures it."""

from __future__ import annotations

from typing import Any

import pytest

from glastonbury import kafka, settings

SCRAM = {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_USERNAME": "payment-relay",
         "KAFKA_PASSWORD": "s3cret"}


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM", "KAFKA_USERNAME",
                 "KAFKA_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_local_stack_talks_plaintext_without_credentials(environ: pytest.MonkeyPatch) -> None:
    assert settings.kafka_security() == {}


def test_sasl_gives_scram_sha_512_with_the_processs_own_user(environ: pytest.MonkeyPatch) -> None:
    for name, value in SCRAM.items():
        environ.setenv(name, value)
    assert settings.kafka_security() == {
        "security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "payment-relay", "sasl_plain_password": "s3cret"}


@pytest.mark.parametrize("missing", ["KAFKA_USERNAME", "KAFKA_PASSWORD"])
def test_sasl_without_a_credential_stops_the_process_with_a_sentence(
        environ: pytest.MonkeyPatch, missing: str) -> None:
    for name, value in SCRAM.items():
        if name != missing:
            environ.setenv(name, value)
    with pytest.raises(ValueError, match="set KAFKA_USERNAME and KAFKA_PASSWORD"):
        settings.kafka_security()


def test_an_unknown_protocol_is_named(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("KAFKA_SECURITY_PROTOCOL", "SSL_PLEASE")
    with pytest.raises(ValueError, match="'SSL_PLEASE'"):
        settings.kafka_security()


@pytest.mark.parametrize("make", ["producer", "consumer", "admin"])
def test_every_client_the_code_makes_carries_the_credentials(
        environ: pytest.MonkeyPatch, make: str) -> None:
    for name, value in SCRAM.items():
        environ.setenv(name, value)
    made: list[dict[str, Any]] = []

    class Recorder:
        def __init__(self, *args: Any, **options: Any):
            made.append(options)

        def list_topics(self) -> list[str]:
            return ["payment.results"]

        def close(self) -> None:
            pass

    environ.setattr(kafka, {"producer": "KafkaProducer", "consumer": "KafkaConsumer",
                            "admin": "KafkaAdminClient"}[make], Recorder)
    if make == "producer":
        kafka.make_producer(["kafka:9092"])
    elif make == "consumer":
        kafka.make_consumer(["kafka:9092"], "orchestrator-bridge", "payment.results")
    else:
        kafka.wait_for_topics(["kafka:9092"], {"payment.results": 4})
    assert made and made[0]["sasl_plain_username"] == "payment-relay"
    assert made[0]["security_protocol"] == "SASL_PLAINTEXT"
