"""Every setting of the system, read from the environment with a documented default.

The defaults describe the local stack that `make up` starts: embedded Redis and Tansu on their
own ports (so they never clash with a Redis on 6379 or a Kafka on 9092) and SQLite files under
`var/`. Production (docker-compose.yml) sets the same variables to real servers.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

EMBEDDED_REDIS_PORT = 16379
EMBEDDED_KAFKA_PORT = 19092
RELAY_WAKE_PORT = 18089   # UDP


def env(name: str, default: str) -> str:
    """The variable's value, or the default when it is unset or empty."""
    return os.environ.get(name) or default


def env_float(name: str, default: float) -> float:
    return float(env(name, str(default)))


def env_int(name: str, default: int) -> int:
    return int(env(name, str(default)))


def var_dir() -> Path:
    """Where local state lives (SQLite files, embedded Redis data)."""
    path = Path(env("GLASTONBURY_VAR", "var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url(service: str) -> str:
    """`<SERVICE>_DATABASE_URL`, or a SQLite file of the service's own under var/."""
    return env(f"{service.upper()}_DATABASE_URL", f"sqlite:///{var_dir() / service}.db")


def redis_url() -> str:
    return env("REDIS_URL", f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0")


def kafka_bootstrap_servers() -> list[str]:
    return env("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{EMBEDDED_KAFKA_PORT}").split(",")


KAFKA_SECURITY_PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL")


def kafka_security() -> dict[str, str]:
    """How a Kafka client proves who it is: kafka-python's options from `KAFKA_SECURITY_PROTOCOL`
    (PLAINTEXT locally; SASL_PLAINTEXT or SASL_SSL in production), `KAFKA_SASL_MECHANISM`
    (SCRAM-SHA-512) and the process's own `KAFKA_USERNAME` and `KAFKA_PASSWORD`."""
    protocol = env("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper()
    if protocol not in KAFKA_SECURITY_PROTOCOLS:
        raise ValueError(f"KAFKA_SECURITY_PROTOCOL is {protocol!r}: one of "
                         f"{', '.join(KAFKA_SECURITY_PROTOCOLS)}")
    if protocol == "PLAINTEXT":
        return {}
    username, password = os.environ.get("KAFKA_USERNAME"), os.environ.get("KAFKA_PASSWORD")
    if not (username and password):
        raise ValueError(f"KAFKA_SECURITY_PROTOCOL is {protocol}: set KAFKA_USERNAME and "
                         "KAFKA_PASSWORD")
    return {"security_protocol": protocol,
            "sasl_mechanism": env("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
            "sasl_plain_username": username, "sasl_plain_password": password}


def service_url(service: str, default_port: int) -> str:
    """Base URL of a service, e.g. `INVENTORY_SERVICE_URL`, defaulting to its local port."""
    port = env(f"{service.upper()}_PORT", str(default_port))
    return env(f"{service.upper()}_SERVICE_URL", f"http://127.0.0.1:{port}").rstrip("/")


def order_service_url() -> str:
    return service_url("order", 8080)


def inventory_service_url() -> str:
    return service_url("inventory", 8081)


def payment_service_url() -> str:
    return service_url("payment", 8082)


def kafka_fetch_max_wait_ms() -> int:
    """Milliseconds a consumer's fetch may wait at the broker for new messages (Kafka's 500;
    the local stack sets 30 for Tansu, which does not answer a waiting fetch early)."""
    return env_int("KAFKA_FETCH_MAX_WAIT_MS", 500)


def payment_results_topic() -> str:
    return env("PAYMENT_RESULTS_TOPIC", "payment.results")


def payment_results_dead_letter_topic() -> str:
    return env("PAYMENT_RESULTS_DLQ_TOPIC", payment_results_topic() + ".dlq")


def payment_results_partitions() -> int:
    return env_int("PAYMENT_RESULTS_PARTITIONS", 4)


def payment_relay_wake_address() -> str:
    """`host:port` (UDP) where the payment relay listens for the payment API's nudges; empty
    for none (the relay then finds new payments at its poll only)."""
    return os.environ.get("PAYMENT_RELAY_WAKE_ADDRESS", f"127.0.0.1:{RELAY_WAKE_PORT}")


def order_waiting_clients() -> int:
    """How many clients may wait at once for their order to end (`GET /orders/{id}?wait=`) in
    each process of the order service: keep it below the server's threads (granian's
    `--blocking-threads` in the Procfile and compose), so orders and reads always find one."""
    return env_int("ORDER_WAITING_CLIENTS", 16)


def payment_decline_above() -> Decimal:
    return Decimal(env("PAYMENT_DECLINE_ABOVE", "1000.00"))


def http_timeout() -> float:
    """Seconds a service call may take before it counts as a technical failure."""
    return env_float("HTTP_TIMEOUT", 5.0)


def tracing_endpoint() -> str:
    """`OTEL_EXPORTER_OTLP_ENDPOINT`: the OTLP/HTTP collector each process sends its spans to
    (e.g. `http://collector:4318`) when the tracing extra is installed; empty: no tracing
    (glastonbury.tracing)."""
    return os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
