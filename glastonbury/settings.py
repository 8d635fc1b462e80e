"""Every setting of the system, declared once: its variable, default, kind and one line of doc.

The defaults describe the local stack that `make up` starts: embedded Redis and Tansu on their
own ports (so they never clash with a Redis on 6379 or a Kafka on 9092) and SQLite files under
`var/`. Where `make up` runs with another value, the declaration gives it (`local`): the devstack
sets it. Production (docker-compose.yml) sets the same variables to real servers.

No other module reads the environment: each reads its declaration (`REDIS_URL.text()`), or one of
the accessors below. `.env.example` and the README's table are printed from the declarations:
`python -m glastonbury.settings_docs --env-example` / `--markdown` (tests/unit/test_settings.py).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

EMBEDDED_REDIS_PORT = 16379
EMBEDDED_KAFKA_PORT = 19092
RELAY_WAKE_PORT = 18089   # UDP


@dataclass(frozen=True)
class Setting:
    """One environment variable: unset or empty, it takes its default (unless `keeps_empty`)."""

    name: str
    default: str   # "" when it has none; as shown in the docs when the reader computes it
    kind: str      # str, int, float, decimal, secret, url, address, list, choice, path, flag,
                   # limit
    doc: str
    section: str
    local: str | None = None   # the value `make up` runs with, where it differs
    keeps_empty: bool = False  # an empty value means "none", not "the default"

    def text(self, default: str | None = None) -> str:
        """The variable's value, or the default (the declared one unless given)."""
        fallback = self.default if default is None else default
        if self.keeps_empty:
            return os.environ.get(self.name, fallback)
        return os.environ.get(self.name) or fallback

    def integer(self) -> int:
        return int(self.text())

    def number(self) -> float:
        return float(self.text())

    def decimal(self) -> Decimal:
        return Decimal(self.text())


SETTINGS: dict[str, Setting] = {}
# Families of variables the code reads under a name it builds (`SAGA_<STEP>_MAX_ATTEMPTS`).
PATTERNS: dict[str, Setting] = {}
DECLARED: list[Setting] = []   # both, in the order of their declarations (the docs' order)


def declare(name: str, default: object, kind: str, doc: str, section: str,
            local: object = None, keeps_empty: bool = False) -> Setting:
    setting = Setting(name, str(default), kind, doc, section,
                      None if local is None else str(local), keeps_empty)
    registry = PATTERNS if "<" in name else SETTINGS
    assert name not in registry, f"{name} is declared twice"
    registry[name] = setting
    DECLARED.append(setting)
    return setting


# -- Credentials: `local` is the documented local default, refused outside `make up` ---------
CREDENTIALS = "Credentials"
ORCHESTRATOR_TOKEN = declare(
    "ORCHESTRATOR_TOKEN", "", "secret", "The orchestrator's token for its calls to the three "
    "services (Authorization: Bearer ...).", CREDENTIALS, local="local-orchestrator-token")
ADMIN_TOKEN = declare(
    "ADMIN_TOKEN", "", "secret", "A person's token for the catalogue, the list of orders and "
    "the simulated gateway's manual decision.", CREDENTIALS, local="local-admin-token")
PAYMENT_RESULTS_SIGNING_KEY = declare(
    "PAYMENT_RESULTS_SIGNING_KEY", "", "secret", "The key the payment relay signs each payment "
    "result with (HMAC-SHA256); the bridge drops what it does not sign.", CREDENTIALS,
    local="local-payment-results-key")
ORDER_MESSAGES_SIGNING_KEY = declare(
    "ORDER_MESSAGES_SIGNING_KEY", "", "secret", "The key the order service signs each order "
    "message (`saga.start`) with (HMAC-SHA256), shared with the orchestrator, which starts no "
    "saga from a message it does not sign: the broker is not trusted with the order.",
    CREDENTIALS, local="local-order-messages-key")
FLOWER_PASSWORD = declare(
    "FLOWER_PASSWORD", "", "secret", "Password of the dashboard's only login, user `techlead` "
    "(required by the dashboard).", CREDENTIALS, local="glastonbury")
LOCAL_STACK = declare(
    "GLASTONBURY_LOCAL_STACK", "", "flag", "Set to 1 by `make up` and the test stacks only: "
    "the documented local credentials are good there, and only there (exactly `1`: any other "
    "value is not the local stack, and each part warns of it).", CREDENTIALS)

# -- Where things are ---------------------------------------------------------------------------
PLACES = "Servers, databases and ports"
GLASTONBURY_VAR = declare("GLASTONBURY_VAR", "var", "path", "Where local state lives (SQLite "
                          "files, embedded Redis data).", PLACES)
REDIS_URL = declare("REDIS_URL", f"redis://:<password>@127.0.0.1:{EMBEDDED_REDIS_PORT}/0", "url",
                    "Celery's broker and results; by default the embedded valkey-server of "
                    "`make up`, with the password it made at random in "
                    "`<GLASTONBURY_VAR>/redis/password`.", PLACES)
KAFKA_BOOTSTRAP_SERVERS = declare(
    "KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{EMBEDDED_KAFKA_PORT}", "list",
    "Kafka brokers (host:port, comma-separated) for the payment results (embedded Tansu under "
    "`make up`).", PLACES)
DATABASE_URLS = {service: declare(
    f"{service.upper()}_DATABASE_URL", f"sqlite:///var/{service}.db", "url",
    f"The {service} database: any SQLAlchemy URL (PostgreSQL in production).", PLACES)
    for service in ("order", "inventory", "payment", "orchestrator")}
PORTS = {service: declare(f"{service.upper()}_PORT", port, "int",
                          f"Port the {'dashboard' if service == 'flower' else service + ' service'}"
                          " listens on (the Procfile's).", PLACES)
         for service, port in (("order", 8080), ("inventory", 8081), ("payment", 8082),
                               ("flower", 8083))}
SERVICE_URLS = {service: declare(
    f"{service.upper()}_SERVICE_URL", f"http://127.0.0.1:<{service.upper()}_PORT>", "url",
    f"Base URL the {service} service is called at.", PLACES)
    for service in ("order", "inventory", "payment")}
EMBEDDED_REDIS = declare("EMBEDDED_REDIS_PORT", EMBEDDED_REDIS_PORT, "int", "Port of the "
                         "embedded Redis that `make up` starts when REDIS_URL is unset.", PLACES)
EMBEDDED_KAFKA = declare("EMBEDDED_KAFKA_PORT", EMBEDDED_KAFKA_PORT, "int", "Port of the "
                         "embedded Tansu that `make up` starts when KAFKA_BOOTSTRAP_SERVERS is "
                         "unset.", PLACES)
WORKER_PROCESSES = declare("WORKER_PROCESSES", 2, "int", "Saga worker processes under "
                           "`make up` (one step at a time each).", PLACES)

# -- Kafka ----------------------------------------------------------------------------------------
KAFKA = "Kafka"
KAFKA_SECURITY_PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL")
KAFKA_SECURITY_PROTOCOL = declare(
    "KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", "choice", "How the relay and the bridge sign in to "
    f"Kafka: {', '.join(KAFKA_SECURITY_PROTOCOLS)}.", KAFKA)
KAFKA_SASL_MECHANISM = declare("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512", "str",
                               "The SASL mechanism, beyond PLAINTEXT.", KAFKA)
KAFKA_USERNAME = declare("KAFKA_USERNAME", "", "str", "The process's own Kafka user, beyond "
                         "PLAINTEXT.", KAFKA)
KAFKA_PASSWORD = declare("KAFKA_PASSWORD", "", "secret", "That user's password.", KAFKA)
KAFKA_FETCH_MAX_WAIT_MS = declare(
    "KAFKA_FETCH_MAX_WAIT_MS", 500, "int", "Milliseconds the broker may hold a consumer's fetch "
    "(Tansu answers a waiting fetch only when its wait ends).", KAFKA, local=30)
PAYMENT_RESULTS_TOPIC = declare("PAYMENT_RESULTS_TOPIC", "payment.results", "str",
                                "The topic of the payment results.", KAFKA)
PAYMENT_RESULTS_DLQ_TOPIC = declare(
    "PAYMENT_RESULTS_DLQ_TOPIC", "<PAYMENT_RESULTS_TOPIC>.dlq", "str",
    "Where the bridge puts the results it cannot use.", KAFKA)
PAYMENT_RESULTS_PARTITIONS = declare("PAYMENT_RESULTS_PARTITIONS", 4, "int",
                                     "Partitions of the payment results topic.", KAFKA)

# -- The services --------------------------------------------------------------------------------
SERVICES = "The services"
HTTP_TIMEOUT = declare("HTTP_TIMEOUT", 5.0, "float", "Seconds a service call may take before "
                       "it counts as a technical failure.", SERVICES)
SERVICE_CA_BUNDLE = declare(
    "SERVICE_CA_BUNDLE", "", "path", "A PEM file of the certificate authorities a part trusts "
    "when it calls a service at an `https://` URL (`*_SERVICE_URL`); unset: the system's.",
    SERVICES)
ORDER_WAITING_CLIENTS = declare(
    "ORDER_WAITING_CLIENTS", 16, "int", "Clients that may wait at once with `?wait=` in each "
    "order service process, each holding one of its `ORDER_THREADS` (keep it below them); "
    "beyond, answered at once with `Retry-After`.", SERVICES)
PAYMENT_DECLINE_ABOVE = declare("PAYMENT_DECLINE_ABOVE", "1000.00", "decimal", "The simulated "
                                "gateway declines amounts above this.", SERVICES)
PAYMENT_HOLD_CUSTOMERS = declare("PAYMENT_HOLD_CUSTOMERS", "", "list", "Customers whose "
                                 "payments the simulated gateway holds for a manual decision.",
                                 SERVICES)
PAYMENT_DECLINE_CUSTOMERS = declare("PAYMENT_DECLINE_CUSTOMERS", "", "list", "Customers whose "
                                    "payments the simulated gateway declines.", SERVICES)
PAYMENT_DECISION_DELAY = declare("PAYMENT_DECISION_DELAY", 0.0, "float", "Seconds the "
                                 "simulated gateway takes to decide.", SERVICES)
PAYMENT_RELAY_POLL_INTERVAL = declare(
    "PAYMENT_RELAY_POLL_INTERVAL", 0.25, "float", "Seconds the relay sleeps after a pass that "
    "found nothing, unless the payment API nudges it first.", SERVICES)
PAYMENT_RELAY_WAKE_ADDRESS = declare(
    "PAYMENT_RELAY_WAKE_ADDRESS", f"127.0.0.1:{RELAY_WAKE_PORT}", "address", "`host:port` (UDP) "
    "where the relay hears the payment API's nudges; empty: none (it finds new payments at its "
    "poll).", SERVICES, keeps_empty=True)

# -- The sale: what one client may do, and whom the services believe ----------------------------
SALE = "The sale: limits and trust"
TRUSTED_PROXIES = declare(
    "TRUSTED_PROXIES", "", "list", "Addresses or networks (CIDR) of the reverse proxies in front "
    "of the order service and the dashboard: only from these is `X-Forwarded-For` believed as "
    "the client's address; empty: the peer's own address is the client's.", SALE)
ORDER_BODY_READ_TIMEOUT = declare(
    "ORDER_BODY_READ_TIMEOUT", 10.0, "float", "Seconds the order service gives a client to send "
    "a request's body (at most 64 KiB) once its headers are in; then 408. A body is read before "
    "a thread is taken, so slow ones hold none.", SALE)
ORDER_THREADS = declare(
    "ORDER_THREADS", 20, "int", "Threads of each order service process that run requests whose "
    "body is in; each `?wait=` holds one while it waits.", SALE)
# Limits in the `limits` notation (`10/minute`, `5/second;100/hour`), counted in Redis.
ORDER_RATE_LIMIT_PER_ADDRESS = declare(
    "ORDER_RATE_LIMIT_PER_ADDRESS", "60/minute", "limit", "Orders (`POST /orders`) one client "
    "address may place, counted across every order service process (in Redis); beyond, 429 with "
    "`Retry-After`. Generous: many buyers can share an address behind a NAT.", SALE,
    local="100/second")
ORDER_RATE_LIMIT_PER_CUSTOMER = declare(
    "ORDER_RATE_LIMIT_PER_CUSTOMER", "10/minute", "limit", "Orders one `customerId` may place, "
    "from any address; beyond, 429 with `Retry-After`. A real buyer places a few a minute at "
    "most.", SALE, local="100/second")
ORDER_WAITING_CLIENTS_PER_ADDRESS = declare(
    "ORDER_WAITING_CLIENTS_PER_ADDRESS", 2, "int", "Of the `ORDER_WAITING_CLIENTS`, how many "
    "one client address may hold at once; beyond, answered at once with `Retry-After`.", SALE)

# -- The saga ------------------------------------------------------------------------------------
SAGA = "The saga"
PAYMENT_RESULT_TIMEOUT = declare(
    "PAYMENT_RESULT_TIMEOUT", 300.0, "float", "Seconds a saga waits for its payment result "
    "before it asks the payment service and cancels an undecided one: so it bounds how long "
    "an unpaid order holds its tickets, counted against its buyer's limits.", SAGA, local=30)
SAGA_STUCK_AFTER = declare(
    "SAGA_STUCK_AFTER", 60.0, "float", "Seconds without progress after which the reconciler "
    "drives a saga on (and the dashboard calls it stuck).", SAGA, local=15)
SAGA_RECONCILE_INTERVAL = declare("SAGA_RECONCILE_INTERVAL", 5.0, "float",
                                  "Seconds between the reconciler's passes.", SAGA)
SAGA_MAX_DRIVES = declare("SAGA_MAX_DRIVES", 10, "int", "How often the reconciler re-drives "
                          "one saga before parking it for a person.", SAGA)
SAGA_STEP_ATTEMPT_LIMIT = declare(
    "SAGA_STEP_ATTEMPT_LIMIT", 25, "int", "Attempts at one step, across re-deliveries and "
    "re-drives, before it is parked.", SAGA)
CELERY_VISIBILITY_TIMEOUT = declare(
    "CELERY_VISIBILITY_TIMEOUT", 300, "int", "Seconds before Redis hands an unacknowledged task "
    "(its worker died) to another worker.", SAGA)
# Each step declares its retry policy (orchestrator/domain/steps.py); these override it.
STEP_MAX_ATTEMPTS = declare("STEP_MAX_ATTEMPTS", "", "int", "Attempts at a step's technical "
                            "failures, for every step (unset: each step's declared policy).",
                            SAGA)
STEP_RETRY_DELAY = declare("STEP_RETRY_DELAY", "", "float", "Seconds before a step's first "
                           "retry (doubling, with jitter), for every step.", SAGA)
STEP_RETRY_MAX_DELAY = declare("STEP_RETRY_MAX_DELAY", "", "float",
                               "The longest wait between two retries, for every step.", SAGA)
STEP_OVERRIDES = {
    suffix: declare(f"SAGA_<STEP>_{suffix}", f"<{default.name}>", default.kind,
                    f"{default.name} for one step (`SAGA_RESERVE_TICKETS_{suffix}`, ...).", SAGA)
    for suffix, default in (("MAX_ATTEMPTS", STEP_MAX_ATTEMPTS), ("RETRY_DELAY", STEP_RETRY_DELAY),
                            ("RETRY_MAX_DELAY", STEP_RETRY_MAX_DELAY))}

# -- Observability -------------------------------------------------------------------------------
OBSERVABILITY = "Logs and traces"
LOG_FORMATS = ("text", "json")
LOG_FORMAT = declare("LOG_FORMAT", "text", "choice", "`json`: one JSON object a line (each "
                     "about an order has `order_id`); `text`: one line of text.", OBSERVABILITY)
OTEL_EXPORTER_OTLP_ENDPOINT = declare(
    "OTEL_EXPORTER_OTLP_ENDPOINT", "", "url", "An OTLP/HTTP collector (`http://127.0.0.1:4318`) "
    "every process sends its spans to (the `tracing` extra); unset: no tracing.", OBSERVABILITY)


def step_value(step: str, suffix: str) -> str:
    """`SAGA_<STEP>_<SUFFIX>` for one step, or else the `STEP_<SUFFIX>` of every step; "" when
    neither is set (the step's declared policy holds)."""
    family = STEP_OVERRIDES[suffix]
    own = replace(family, name=family.name.replace("<STEP>", step.upper()))
    return own.text(SETTINGS[f"STEP_{suffix}"].text())


def declared(name: str) -> bool:
    """Whether `name` is a declared variable, or one of a declared family."""
    return name in SETTINGS or any(re.fullmatch(re.sub(r"<\w+>", "[A-Z0-9_]+", pattern), name)
                                   for pattern in PATTERNS)


def local_values() -> dict[str, str]:
    """The values `make up` runs with where they differ from the defaults."""
    return {setting.name: setting.local for setting in SETTINGS.values()
            if setting.local is not None}


# -- Accessors (what each setting is: its declaration above) ---------------------------------------


def local_stack() -> bool:
    """Whether this is the local stack: `GLASTONBURY_LOCAL_STACK` is exactly `1` (`0`, `false`,
    `yes` are not)."""
    return LOCAL_STACK.text() == "1"


def misread_local_stack() -> str | None:
    """`GLASTONBURY_LOCAL_STACK`'s value when it is set to anything but `1`, else None."""
    value = LOCAL_STACK.text()
    return value if value not in ("", "1") else None


def var_dir() -> Path:
    """Where local state lives (SQLite files, embedded Redis data)."""
    path = Path(GLASTONBURY_VAR.text()).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url(service: str) -> str:
    """`<SERVICE>_DATABASE_URL`, or a SQLite file of the service's own under var/."""
    return DATABASE_URLS[service].text(f"sqlite:///{var_dir() / service}.db")


def service_ca_bundle() -> str:
    return SERVICE_CA_BUNDLE.text()


def redis_url() -> str:
    """REDIS_URL, or the embedded Redis of `make up` with the password it was started with
    (so that `celery -A orchestrator saga ...` in another terminal reaches it too)."""
    return REDIS_URL.text("") or embedded_redis_url(Path(GLASTONBURY_VAR.text()))


def embedded_redis_password_file(var: Path) -> Path:
    """Where the embedded Redis's password is kept (made at random on the stack's first start,
    readable by its owner only): the local broker is not open to whoever reaches its port."""
    return var.resolve() / "redis" / "password"


def embedded_redis_url(var: Path, port: int | None = None) -> str:
    """The embedded Redis's URL, with its password once it has one."""
    password_file = embedded_redis_password_file(var)
    password = password_file.read_text().strip() if password_file.exists() else ""
    credential = f":{password}@" if password else ""
    return f"redis://{credential}127.0.0.1:{port or EMBEDDED_REDIS.integer()}/0"


def kafka_bootstrap_servers() -> list[str]:
    return KAFKA_BOOTSTRAP_SERVERS.text().split(",")


def kafka_security() -> dict[str, str]:
    """How a Kafka client proves who it is: kafka-python's options from `KAFKA_SECURITY_PROTOCOL`
    (PLAINTEXT locally; SASL_PLAINTEXT or SASL_SSL in production), `KAFKA_SASL_MECHANISM`
    (SCRAM-SHA-512) and the process's own `KAFKA_USERNAME` and `KAFKA_PASSWORD`."""
    protocol = KAFKA_SECURITY_PROTOCOL.text().upper()
    if protocol not in KAFKA_SECURITY_PROTOCOLS:
        raise ValueError(f"KAFKA_SECURITY_PROTOCOL is {protocol!r}: one of "
                         f"{', '.join(KAFKA_SECURITY_PROTOCOLS)}")
    if protocol == "PLAINTEXT":
        return {}
    username, password = KAFKA_USERNAME.text(), KAFKA_PASSWORD.text()
    if not (username and password):
        raise ValueError(f"KAFKA_SECURITY_PROTOCOL is {protocol}: set KAFKA_USERNAME and "
                         "KAFKA_PASSWORD")
    return {"security_protocol": protocol, "sasl_mechanism": KAFKA_SASL_MECHANISM.text(),
            "sasl_plain_username": username, "sasl_plain_password": password}


def service_url(service: str) -> str:
    """Base URL of a service, e.g. `INVENTORY_SERVICE_URL`, defaulting to its local port."""
    port = PORTS[service].text()
    return SERVICE_URLS[service].text(f"http://127.0.0.1:{port}").rstrip("/")


def order_service_url() -> str:
    return service_url("order")


def inventory_service_url() -> str:
    return service_url("inventory")


def payment_service_url() -> str:
    return service_url("payment")


def payment_results_dead_letter_topic() -> str:
    return PAYMENT_RESULTS_DLQ_TOPIC.text(PAYMENT_RESULTS_TOPIC.text() + ".dlq")


def order_rate_limits() -> dict[str, str]:
    """The order intake's limits by what they count: a client address, a customer."""
    return {"address": ORDER_RATE_LIMIT_PER_ADDRESS.text(),
            "customer": ORDER_RATE_LIMIT_PER_CUSTOMER.text()}


def trusted_proxies() -> list[str]:
    return [entry for entry in TRUSTED_PROXIES.text().split(",") if entry.strip()]
