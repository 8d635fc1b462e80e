"""docker-compose.yml (production) checked against the topology, the settings and what it mounts.

No Docker engine is needed: the file is read as YAML. Each part glastonbury.topology declares
(but the servers only the local stack embeds: production has real ones) is a compose service
doing what the declaration says; test_topology.py holds the declaration to the code.
"""

from __future__ import annotations

import configparser
import ipaddress
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from decimal import Decimal
from functools import cache
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

import pytest
import yaml  # type: ignore[import-untyped]

from glastonbury import settings
from glastonbury.logs import GRANIAN_LOG_CONFIG_FILE
from glastonbury.topology import DATABASES, MIGRATE, PARTS
from tests.locks import LOCKED_EXTRAS, pins_of

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
KAFKA_START = ROOT / "deploy" / "kafka-start.sh"
MIGRATE_JOB, PROXY, POSTGRES = "migrate", "proxy", "postgres"
HEALTHY, DONE = "service_healthy", "service_completed_successfully"
DEPLOYED = [part for part in PARTS.values() if not part.embedded]
SERVERS = {part.name for part in PARTS.values() if part.embedded}   # Redis, Kafka
PORT = {part.name: int(part.port.default) for part in DEPLOYED if part.port}
# A part's service is named as a host may be: payment_relay's is payment-relay.
SERVICE = {part.name.replace("_", "-"): part for part in DEPLOYED}
SETUP = configparser.ConfigParser()
SETUP.read(ROOT / "setup.cfg")


@cache
def services() -> dict[str, dict]:
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]


def app_services() -> dict[str, dict]:
    """The services run from the image built from this repository."""
    return {name: spec for name, spec in services().items() if "build" in spec}


def environment(spec: dict) -> dict[str, str]:
    return {name: "" if value is None else str(value)
            for name, value in (spec.get("environment") or {}).items()}


def option(args: list[str], *names: str) -> str | None:
    """The value of `--name value` or `--name=value`, for the first of `names` given."""
    found = re.search(rf"(?:^| )(?:{'|'.join(names)})[ =](\S+)", " ".join(args))
    return found.group(1) if found else None


def published_ports(spec: dict) -> list[tuple[str | None, int]]:
    """(host port or None, container port) of each `ports` entry."""
    entries = [str(entry).rsplit(":", 2) for entry in spec.get("ports") or []]
    return [(entry[-2] if len(entry) > 1 else None, int(entry[-1])) for entry in entries]


def depends_on(spec: dict) -> dict[str, str]:
    return {name: wait["condition"] for name, wait in (spec.get("depends_on") or {}).items()}


def healthcheck(spec: dict) -> str:
    return " ".join((spec.get("healthcheck") or {}).get("test") or ["NONE"])


def anywhere(command: list[str]) -> list[str]:
    """The command with the address it listens on blanked."""
    address = option(command, "--host", "--address")
    return [arg.replace(address, "<address>") if address else arg for arg in command]


def listening(service: str) -> list[tuple[str, int]]:
    """Where a server or a part listens in compose (Kafka: where it advertises itself)."""
    if service == "kafka":
        return [address for address in addresses(kafka_env()["KAFKA_ADVERTISED_LISTENERS"])
                if address[0] == service]
    return [(service, {"redis": 6379, POSTGRES: 5432}.get(service) or PORT[service])]


def addresses(value: str) -> list[tuple[str, int]]:
    """(host, port) of each address in a URL or a comma-separated list (each names its port)."""
    found = re.findall(r"(?:^|//|@|,)([a-z][\w.-]*):(\d+)", re.sub(r"\$\{[^}]*\}", "x", value))
    return [(host, int(port)) for host, port in found]


# --- the parts ----------------------------------------------------------------------------------


def test_the_image_runs_the_topologys_parts_and_the_migrate_job_beside_the_servers() -> None:
    for name, spec in services().items():
        assert "image" in spec or "build" in spec, f"{name} has neither image nor build"
        assert int((spec.get("deploy") or {}).get("replicas", 1)) == 1 or name in SERVICE, name
        assert "build" in spec or healthcheck(spec) != "NONE", f"{name} has no healthcheck"
    assert set(app_services()) == {*SERVICE, MIGRATE_JOB}
    # The one-shot job, once postgres is up: the one process given every database.
    job = app_services()[MIGRATE_JOB]
    assert (job["command"], job["restart"], depends_on(job)) == (
        shlex.split(MIGRATE), "no", {POSTGRES: HEALTHY})
    assert {name for name in environment(job) if name.endswith("_DATABASE_URL")} == {
        settings.DATABASE_URLS[name].name for name in DATABASES}


@pytest.mark.parametrize("service", SERVICE)
def test_each_part_is_a_service_doing_what_the_topology_declares(service: str) -> None:
    part, spec, env = SERVICE[service], services()[service], environment(services()[service])
    # The command, its `$NAME`s filled from the service's environment or the settings' defaults;
    # where it listens differs: the loopback locally, every interface in a container.
    values = {**{setting.name: setting.default for setting in settings.SETTINGS.values()}, **env}
    declared = shlex.split(Template(part.command).substitute(values))
    listens = option(spec["command"], "--host", "--address")
    assert listens == ("0.0.0.0" if part.port else None), f"{part.name} listens on {listens}"
    assert anywhere(spec["command"]) == anywhere(declared)
    if part.port:   # its own port: checked, and published past the proxy only if not public
        port = PORT[part.name]
        assert f"127.0.0.1:{port}{part.health}" in healthcheck(spec), part.name
        assert {(host, container) for host, container in published_ports(spec)} <= (
            set() if part.public else {(None, port), (str(port), port)}), part.name
    # Its own database alone (services never share one; each connects as its own role, below);
    # it starts once the schema is in place and what it needs is healthy, told where that is,
    # and is told of no other server.
    given = {name for name in env if name.endswith("_DATABASE_URL")}
    assert given == ({settings.DATABASE_URLS[part.database].name} if part.database else set())
    waits = {name.replace("_", "-"): HEALTHY for name in part.needs} | (
        {POSTGRES: HEALTHY, MIGRATE_JOB: DONE} if part.database else {})
    assert depends_on(spec) == waits, f"{service} waits for {depends_on(spec)}, not {waits}"
    for name in part.needs:
        address = PARTS[name].address
        assert address and addresses(env.get(address.name, "")) == listening(name), (
            f"{service} finds no {name}")
    told = {host for value in env.values() for host, _ in addresses(value)}
    assert told & SERVERS <= set(part.needs), f"{service} is told of {told}"
    # As many as declared: more only of a part that scales, and nothing then stops a second.
    if int((spec.get("deploy") or {}).get("replicas", 1)) > 1 or part.scales:
        assert part.scales and "container_name" not in spec, f"{part.name} cannot scale"
        assert not [host for host, _ in published_ports(spec) if host], (
            f"{part.name} publishes host ports: a second one would clash")


def test_the_payment_api_nudges_the_relay_where_it_listens() -> None:
    wake = settings.PAYMENT_RELAY_WAKE_ADDRESS.name
    assert {environment(services()[service])[wake] for service in ("payment", "payment-relay")} == {
        f"payment-relay:{settings.RELAY_WAKE_PORT}"}


# --- the proxy ----------------------------------------------------------------------------------


def test_the_proxy_alone_publishes_the_public_parts_and_they_believe_it_alone() -> None:
    from glastonbury.web import MAX_BODY_BYTES

    proxy, public = services()[PROXY], [part.name for part in DEPLOYED if part.public]
    assert re.fullmatch(r"nginx:\d+\.\d+\.\d+(-[a-z]+)?", proxy["image"]), proxy["image"]
    env = environment(proxy)
    # The template's pairs: <NAME>_UPSTREAM (host:port passed to) and <NAME>_LISTEN (published).
    pairs = {env[name]: env[name.replace("_UPSTREAM", "_LISTEN")]
             for name in env if name.endswith("_UPSTREAM")}
    assert pairs == {f"{name}:{PORT[name]}": str(PORT[name]) for name in public}
    assert sorted(published_ports(proxy)) == sorted((str(PORT[n]), PORT[n]) for n in public)
    assert depends_on(proxy) == dict.fromkeys(public, HEALTHY)
    # The repository's file the proxy's image fills in at start (its /etc/nginx/templates/):
    # given what it asks for, refusing a body as the services do.
    (source,) = [ROOT / volume.split(":")[0] for volume in proxy["volumes"]
                 if re.search(r":/etc/nginx/templates/\S+\.template(:ro)?$", volume)]
    template = source.read_text()
    assert source.is_relative_to(ROOT / "deploy")
    assert set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", template)) == set(env)
    limit = re.search(r"^\s*client_max_body_size (\d+)k;", template, re.MULTILINE)
    assert limit and int(limit.group(1)) * 1024 == MAX_BODY_BYTES
    # Its fixed address, the one whose X-Forwarded-For the public parts believe.
    (address,) = [network["ipv4_address"] for network in proxy["networks"].values()]
    subnets = yaml.safe_load(COMPOSE_FILE.read_text())["networks"]["default"]["ipam"]["config"]
    assert any(ipaddress.ip_address(address) in ipaddress.ip_network(pool["subnet"])
               for pool in subnets), f"{address} is outside the network"
    for name in public:
        assert environment(services()[name]).get("TRUSTED_PROXIES") == address, name


# --- the environment, the servers, the image, the monitoring ------------------------------------


def test_every_variable_is_a_setting_or_granians_which_logs_from_the_file_installed() -> None:
    python = re.search(r"^FROM python:(\d+\.\d+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert python
    shipped = GRANIAN_LOG_CONFIG_FILE.relative_to(ROOT)
    assert shipped.name in SETUP["options.package_data"]["glastonbury"]
    assert set(json.loads(GRANIAN_LOG_CONFIG_FILE.read_text())["loggers"]) == {
        "_granian", "granian.access"}
    # The variables granian reads its options from, as its --help lists them.
    granian_variables = re.findall(r"env var:\s*(GRANIAN_\w+)", subprocess.run(
        [Path(sys.executable).with_name("granian"), "--help"], capture_output=True, text=True,
        check=True).stdout)
    for service, spec in app_services().items():
        env, granian = environment(spec), spec["command"][0] == "granian"
        for name in env:
            if name.startswith("GRANIAN_") and granian:
                assert name in granian_variables, f"{service} sets {name}: no granian option"
            else:
                assert settings.declared(name), f"{service} sets {name}: no declared setting"
        assert not granian or env.get("GRANIAN_LOG_CONFIG") == (
            f"/usr/local/lib/python{python.group(1)}/site-packages/{shipped}"), service


def test_the_order_service_keeps_threads_free_beside_its_waiting_clients() -> None:
    """Clients waiting for their order (`?wait=`) each hold one of the server's threads: at most
    ORDER_WAITING_CLIENTS of them, with threads to spare for orders and reads."""
    env = environment(services()["order"])
    threads = int(env.get("ORDER_THREADS") or settings.ORDER_THREADS.default)
    waiting = int(env.get("ORDER_WAITING_CLIENTS") or settings.ORDER_WAITING_CLIENTS.default)
    assert threads >= waiting + 2, f"{threads} threads and {waiting} clients may wait"


def test_every_secret_is_required_without_a_default_and_given_to_who_needs_it() -> None:
    """Whatever compose reads from the operator's environment is required (`${NAME:?...}`) but
    three knobs; the settings' secrets are among what it reads (the servers' passwords: below)."""
    read = re.findall(r"\$\{(\w+)([^}]*)\}", COMPOSE_FILE.read_text())
    assert {name for name, use in read if not use.startswith(":?")} == {
        "GLASTONBURY_TAG", "LOG_FORMAT", "OTEL_EXPORTER_OTLP_ENDPOINT"}
    secrets = {setting.name for setting in settings.SETTINGS.values() if setting.kind == "secret"}
    assert secrets - {"KAFKA_PASSWORD"} | {"POSTGRES_PASSWORD"} <= {name for name, _ in read}
    # The dashboard's login; the order service signs each `saga.start`, the workers check it
    # and the reconciler in them signs the sagas it starts.
    for service, secret in (("flower", "FLOWER_PASSWORD"), ("order", "ORDER_MESSAGES_SIGNING_KEY"),
                            ("worker", "ORDER_MESSAGES_SIGNING_KEY")):
        assert environment(services()[service])[secret].startswith(f"${{{secret}:?"), service


def test_postgres_creates_each_database_given_and_a_role_owning_it_alone() -> None:
    postgres = services()[POSTGRES]
    (init,) = [v.split(":")[0] for v in postgres["volumes"] if "/docker-entrypoint-initdb.d/" in v]
    assert (ROOT / init).is_file() and (ROOT / init).is_relative_to(ROOT / "deploy"), init
    # `create <role> <database> "$<PASSWORD VARIABLE>"`: a role owning one database.
    created = {database: (role, variable) for role, database, variable in re.findall(
        r'^create (\w+) (\w+) "\$(\w+)"$', (ROOT / init).read_text(), re.MULTILINE)}
    for service, spec in app_services().items():
        for name, value in environment(spec).items():
            if name.endswith("_DATABASE_URL"):
                url = urlsplit(re.sub(r"\$\{[^}]*\}", "secret", value))
                assert [(url.hostname, url.port)] == listening(POSTGRES), (service, name)
                role, variable = created[url.path.lstrip("/")]
                assert url.username == role != environment(postgres)["POSTGRES_USER"], service
                assert value.startswith(f"postgresql://{role}:${{{variable}:?"), (service, name)
                assert environment(postgres)[variable] == f"${{{variable}:?set {variable}}}"


def test_redis_keeps_an_append_only_file_and_asks_every_client_for_its_password() -> None:
    redis = services()["redis"]
    command = shlex.split(redis["command"][2])   # /bin/sh -c "exec redis-server ..."
    assert redis["image"].startswith("redis:") and option(command, "--appendonly") == "yes"
    assert environment(redis)["REDIS_PASSWORD"] == "${REDIS_PASSWORD:?set REDIS_PASSWORD}"
    assert option(command, "--requirepass") == "$$REDIS_PASSWORD"
    assert "REDISCLI_AUTH" in healthcheck(redis) and "ping" in healthcheck(redis)
    urls = [environment(spec)["REDIS_URL"] for spec in app_services().values()
            if "REDIS_URL" in environment(spec)]
    assert urls and all(url.startswith("redis://:${REDIS_PASSWORD:?") for url in urls), urls


def kafka_env() -> dict[str, str]:
    return environment(services()["kafka"])


def test_kafka_runs_in_kraft_mode_and_takes_clients_by_scram_alone() -> None:
    kafka, env = services()["kafka"], kafka_env()
    assert kafka["image"].startswith("apache/kafka:") and "KAFKA_ZOOKEEPER_CONNECT" not in env
    assert not [name for name, spec in services().items() if "zookeeper" in name + spec["image"]]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in env["KAFKA_LISTENERS"]
    # Topics made by the start script alone; nothing allowed but what an ACL allows, and only
    # the loopback listeners' ANONYMOUS is a super user.
    secure = {"KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false", "KAFKA_SUPER_USERS": "User:ANONYMOUS",
              "KAFKA_SASL_ENABLED_MECHANISMS": "SCRAM-SHA-512",
              "KAFKA_AUTHORIZER_CLASS_NAME": "org.apache.kafka.metadata.authorizer."
                                             "StandardAuthorizer",
              "KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND": "false"}
    assert {name: env[name] for name in secure} == secure
    protocols = dict(pair.split(":")
                     for pair in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    for listener in env["KAFKA_LISTENERS"].split(","):
        name, address = listener.split("://")
        assert (protocols[name] in ("SASL_PLAINTEXT", "SASL_SSL")
                or address.startswith("127.0.0.1:")), f"{listener} is plaintext beyond loopback"
    assert "./deploy/kafka-start.sh:/opt/glastonbury/kafka-start.sh:ro" in kafka["volumes"]
    assert "kafka-start.sh" in " ".join(kafka["entrypoint"])
    assert "kafka-ready" in healthcheck(kafka) and "kafka-broker-api-versions" in healthcheck(kafka)


def test_each_kafka_client_is_a_user_of_its_own_and_may_do_only_its_part() -> None:
    """The relay alone writes the payment results and the bridge alone reads them (as its
    group); both write dead letters; nothing else is allowed."""
    from orchestrator.entrypoints.payment_results_bridge import GROUP_ID

    clients = {service: environment(spec) for service, spec in app_services().items()
               if "KAFKA_BOOTSTRAP_SERVERS" in environment(spec)}
    assert set(clients) == {service for service, part in SERVICE.items() if "kafka" in part.needs}
    script = KAFKA_START.read_text()
    created = dict(re.findall(r'^user (\S+) "\$\{(\w+):\?', script, re.MULTILINE))
    for service, env in clients.items():
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT", service
        assert env["KAFKA_SASL_MECHANISM"] == kafka_env()["KAFKA_SASL_ENABLED_MECHANISMS"]
        assert env["KAFKA_PASSWORD"] == kafka_env()[created[env["KAFKA_USERNAME"]]], service
    relay, bridge = (clients[service]["KAFKA_USERNAME"] for service in ("payment-relay", "bridge"))
    assert relay != bridge
    assert 'RESULTS=${PAYMENT_RESULTS_TOPIC:-' in script   # compose's topic names, the clients'
    writes = "--operation Write --operation Describe --topic"
    assert sorted(re.findall(r"^allow (\S+) (.*)$", script, re.MULTILINE)) == sorted([
        (relay, f'{writes} "$RESULTS"'), (relay, f'{writes} "$DEAD_LETTERS"'),
        (bridge, '--operation Read --operation Describe --topic "$RESULTS"'),
        (bridge, f"--operation Read --group {GROUP_ID}"), (bridge, f'{writes} "$DEAD_LETTERS"')])
    for spec in services().values():
        assert environment(spec).get("PAYMENT_RESULTS_PARTITIONS") in (
            None, settings.PAYMENT_RESULTS_PARTITIONS.default)


def test_the_image_runs_as_a_user_and_installs_what_the_commands_need_and_tracing() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.MULTILINE)
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}, "the image runs as root"
    # The lock CI tested (with the tracing extra, so that every process may trace), then the
    # project itself and nothing else.
    assert re.search(r"pip install --require-hashes -r requirements/image\.txt", dockerfile)
    assert LOCKED_EXTRAS["image.txt"] == ("tracing",)
    assert pins_of("image.txt", "opentelemetry-exporter-otlp-proto-http")
    for service, spec in app_services().items():
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" in environment(spec), f"{service} cannot trace"
    assert re.search(r"pip install --no-deps .*\.(\s|$)", dockerfile)
    requires = SETUP["options"]["install_requires"]
    for needed in {shlex.split(part.command)[0] for part in DEPLOYED} - {"python"} | {"flower"}:
        assert re.search(rf"^\s*{needed}\b", requires, re.MULTILINE), f"{needed} not installed"
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().split("\n")
               if line.strip() and not line.startswith("#")}
    packages = {pattern.rstrip("*").rstrip(".")
                for pattern in SETUP["options.packages.find"]["include"].split()}
    for kept in ["setup.cfg", "pyproject.toml", "README.md", "requirements", *packages]:
        assert kept not in ignored, f".dockerignore leaves out {kept}, which pip install needs"


def test_prometheus_scrapes_the_dashboards_metrics_with_the_techlead_login() -> None:
    from orchestrator.entrypoints.dashboard.login import USER

    prometheus = services()["prometheus"]
    assert prometheus["image"].startswith("prom/prometheus:")
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in prometheus["volumes"]}
    config = yaml.safe_load((ROOT / mounted["/etc/prometheus/prometheus.yml"]).read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics" and job["basic_auth"]["username"] == USER
    start = " ".join(prometheus["entrypoint"])
    assert f"> {job['basic_auth']['password_file']}" in start, "the password file is not written"
    assert "$$FLOWER_PASSWORD" in start and "--config.file=/etc/prometheus/prometheus.yml" in start
    assert environment(prometheus)["FLOWER_PASSWORD"] == environment(services()["flower"])[
        "FLOWER_PASSWORD"]
    assert job["static_configs"][0]["targets"] == [f"flower:{PORT['flower']}"]
    assert depends_on(prometheus) == {"flower": HEALTHY}
    assert prometheus["ports"] and all(str(entry).startswith("127.0.0.1:")
                                       for entry in prometheus["ports"]), (
        "Prometheus has no login: publish it on the host's loopback only")


def test_the_grafana_dashboard_asks_only_for_metrics_that_are_served(tmp_path: Path) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from glastonbury.clock import utc_now
    from orchestrator.adapters import counters
    from orchestrator.adapters.saga_metrics import SagaCollector
    from orchestrator.domain.model import OrderLine, OrderPlaced
    from orchestrator.domain.saga import StepRun
    from tests.unit.orchestrator.store import Store

    store = Store.at(f"sqlite:///{tmp_path / 'orchestrator.db'}")
    store.add(OrderPlaced("o1", "c1", Decimal("1.00"), (OrderLine("t1", 1),)))
    store.record_step("o1", StepRun("reserve_tickets", "reserved", utc_now()))
    counters.record_reconciler_pass(store.engine, {"driven": 0, "checked": 0, "voided": 0,
                                                   "started": 0})
    counters.count_dead_letters(store.engine, {"unsigned": 1})
    registry = CollectorRegistry()
    registry.register(SagaCollector(lambda: store.engine))
    served = {line.split("{")[0].split(" ")[0]
              for line in generate_latest(registry).decode().splitlines()
              if line and not line.startswith("#")}
    store.engine.dispose()

    dashboard = json.loads((ROOT / "deploy" / "grafana" / "glastonbury-sagas.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    asked = {name for expr in exprs for name in re.findall(r"\bglastonbury_\w+", expr)}
    assert asked and asked <= served, f"not served: {sorted(asked - served)}"
    for wanted in ("glastonbury_sagas", "glastonbury_saga_step_duration_seconds_bucket",
                   "glastonbury_compensations_total", "glastonbury_sagas_parked",
                   "glastonbury_dead_letters_total", "glastonbury_reconciler_repairs_total"):
        assert wanted in asked, f"no panel shows {wanted}"


def test_docker_compose_validates_the_file_when_it_is_installed() -> None:
    # The v1 `docker-compose`, or Docker's compose plugin (the CLI alone answers "unknown
    # command" to `version`, and is no compose).
    command = next((command for command in (["docker-compose"], ["docker", "compose"])
                    if shutil.which(command[0]) and subprocess.run(
                        [*command, "version"], capture_output=True).returncode == 0), None)
    if command is None:
        pytest.skip("no working docker compose: install Debian's docker-compose (.ci/run does "
                    "as root) or Docker's compose plugin to validate the file")
    required = re.findall(r"\$\{(\w+):\?", COMPOSE_FILE.read_text())   # each set, to anything
    result = subprocess.run([*command, "-f", str(COMPOSE_FILE), "config", "-q"], cwd=ROOT,
                            check=False, capture_output=True, text=True, timeout=60,
                            env={**os.environ, **dict.fromkeys(required, "x")})
    if result.returncode and "docker daemon" in result.stderr.lower():
        pytest.skip(f"docker compose needs a daemon here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
