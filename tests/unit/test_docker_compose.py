"""docker-compose.yml (production) checked against the code, the settings and the Procfile.

No Docker engine is needed: the file is read as YAML. Modules are located with
`importlib.util.find_spec` and read with `ast`, never imported, so a missing module fails the test
that needs it with its name, and nothing connects to anything. The variables and ports are those
`glastonbury.settings` declares (test_settings.py checks that the code reads no other).
"""

from __future__ import annotations

import ast
import configparser
from decimal import Decimal
import importlib.util
import ipaddress
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml  # type: ignore[import-untyped]

from glastonbury import settings
from tests.locks import LOCKED_EXTRAS, pins_of

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
PROCFILE = ROOT / "Procfile"

# Procfile parts that only the local stack has: production uses the real servers.
EMBEDDED_ONLY = {"redis", "kafka"}
# Options whose value differs between the local stack and production by design.
PLACE_OPTIONS = {"--bind", "--address", "--host", "--port", "--schedule"}


# --- reading the files ---------------------------------------------------------------------------


@cache
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def services() -> dict[str, dict]:
    return compose()["services"]


def app_services() -> dict[str, dict]:
    """The services run from the image built from this repository."""
    return {name: spec for name, spec in services().items() if "build" in spec}


def infrastructure_services() -> dict[str, dict]:
    return {name: spec for name, spec in services().items() if "build" not in spec}


def argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def environment(spec: dict) -> dict[str, str]:
    env = spec.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(name): "" if value is None else str(value) for name, value in env.items()}


def option(args: list[str], name: str) -> str | None:
    """The value of `--name value` or `--name=value`."""
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


@cache
def procfile() -> dict[str, list[str]]:
    """Process name -> argv, with each `$VAR` placeholder kept as one token."""
    processes = {}
    for line in PROCFILE.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, command = line.split(":", 1)
        processes[name.strip()] = shlex.split(command)
    return processes


def published_ports(spec: dict) -> list[tuple[str | None, int]]:
    """(host port or None, container port) of each `ports` entry."""
    result = []
    for entry in spec.get("ports") or []:
        if isinstance(entry, dict):
            published = entry.get("published")
            result.append((None if published is None else str(published), int(entry["target"])))
            continue
        parts = str(entry).split("/")[0].rsplit(":", 2)
        host = parts[-2] if len(parts) >= 2 else None
        result.append((host, int(parts[-1])))
    return result


def depends_on(spec: dict) -> dict[str, dict]:
    deps = spec.get("depends_on") or {}
    if isinstance(deps, list):  # the short form waits for nothing but the start
        return {name: {"condition": "service_started"} for name in deps}
    return deps


# --- the code, read without importing it ---------------------------------------------------------


def locate(module: str) -> Path:
    """The source file of `module`; fails naming the module if it is not written (yet)."""
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError as error:
        pytest.fail(f"module {module} does not exist ({error})")
    if spec is None:
        pytest.fail(f"module {module} does not exist")
    origin = spec.origin
    if origin is None or origin == "namespace" or not Path(origin).is_file():
        pytest.fail(f"module {module} is only a directory: it has no __init__.py")
    return Path(origin)


def top_level_names(path: Path) -> dict[str, ast.AST]:
    """Names a module binds at its top level (functions, classes, assignments, imports)."""
    names: dict[str, ast.AST] = {}
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        names[leaf.id] = node
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names[(alias.asname or alias.name).split(".")[0]] = node
    return names


@cache
def setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config


@cache
def code_packages() -> list[str]:
    """The top-level packages that `pip install .` installs (setup.cfg)."""
    include = setup_cfg()["options.packages.find"]["include"].split()
    return sorted({pattern.rstrip("*").rstrip(".") for pattern in include})


def called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def default_ports() -> dict[str, int]:
    """Service -> the port the settings give it (`ORDER_PORT`, ..., `FLOWER_PORT`)."""
    return {service: int(setting.default) for service, setting in settings.PORTS.items()}


# --- what a command runs ------------------------------------------------------------------------


def program(args: list[str]) -> tuple[str, ...]:
    """What a command runs: ("granian", "pkg.mod:create_app()"), ("python -m", "pkg.mod") or
    ("celery", "orchestrator", "worker")."""
    executable = Path(args[0]).name
    if executable == "granian":
        apps = [arg for arg in args[1:] if re.fullmatch(r"[A-Za-z_][\w.]*:\w+", arg)]
        assert len(apps) == 1, f"granian command without one module:callable app: {args}"
        # A Flask app is WSGI: served as such, or through glastonbury.gateway (RSGI).
        assert option(args, "--interface") in ("wsgi", "rsgi"), f"no Flask app: {args}"
        return ("granian", apps[0] + ("()" if "--factory" in args else ""))
    if re.fullmatch(r"python(3(\.\d+)?)?", executable) and args[1:2] == ["-m"]:
        return ("python -m", args[2])
    if executable == "celery":
        app = option(args, "-A") or option(args, "--app") or ""
        positional = [arg for arg in args[1:] if not arg.startswith("-") and arg != app]
        return ("celery", app, positional[0])
    return (executable,)


def normalised(args: list[str]) -> list[str]:
    """The command with the values that legitimately differ (addresses, ports, paths) blanked."""
    result, skip = [], False
    for arg in args:
        if skip:
            result.append("<value>")
            skip = False
        elif arg in PLACE_OPTIONS:
            result.append(arg)
            skip = True
        elif arg.split("=", 1)[0] in PLACE_OPTIONS:
            result.append(arg.split("=", 1)[0] + "=<value>")
        else:
            result.append(arg)
    return result


def assert_runs_something_real(service: str, args: list[str]) -> None:
    kind = program(args)
    if kind[0] == "granian":
        module, factory = kind[1].removesuffix("()").split(":")
        path = locate(module)
        defined = top_level_names(path)
        assert factory in defined, f"{service}: {module} ({path}) defines no {factory}"
        node = defined[factory]
        if kind[1].endswith("()") and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            required = len(node.args.posonlyargs + node.args.args) - len(node.args.defaults)
            assert required == 0, f"{service}: {factory}() in {module} needs {required} arguments"
    elif kind[0] == "python -m":
        path = locate(kind[1])
        if path.name == "__init__.py":
            locate(kind[1] + ".__main__")
    elif kind[0] == "celery":
        assert kind[1], f"{service}: celery without -A"
        locate(kind[1].split(":")[0])
    else:
        pytest.fail(f"{service}: does not know how to check the program of {args}")


# --- the tests ------------------------------------------------------------------------------------


def test_the_compose_file_is_a_mapping_of_services_with_an_image_or_a_build() -> None:
    assert services(), "docker-compose.yml has no services"
    for name, spec in services().items():
        assert "image" in spec or "build" in spec, f"{name} has neither image nor build"


@pytest.mark.parametrize("service", sorted(app_services()))
def test_every_service_with_a_command_runs_a_module_that_exists(service: str) -> None:
    spec = app_services()[service]
    assert "command" in spec, f"{service} is built from the repository but has no command"
    assert_runs_something_real(service, argv(spec["command"]))


def test_celery_finds_the_orchestrator_app_where_celery_dash_a_looks() -> None:
    apps = {
        program(argv(spec["command"]))[1]
        for spec in app_services().values()
        if program(argv(spec["command"]))[0] == "celery"
    }
    assert apps == {"orchestrator"}
    package = locate("orchestrator")
    names = top_level_names(package)
    creates_celery = any(
        isinstance(node, ast.Call) and called_name(node) == "Celery"
        for node in ast.walk(ast.parse(package.read_text()))
    )
    has_celery_module = (package.parent / "celery.py").is_file()
    assert {"app", "celery"} & set(names) or creates_celery or has_celery_module, (
        "`celery -A orchestrator` looks for orchestrator.app, orchestrator.celery or a Celery "
        f"instance in {package}; none is there"
    )


def test_every_procfile_process_has_a_service_running_the_same_command() -> None:
    for name, args in procfile().items():
        if name in EMBEDDED_ONLY:
            continue
        service = name.replace("_", "-")
        assert service in services(), f"Procfile process {name} has no service {service}"
        command = argv(services()[service].get("command") or [])
        assert program(command) == program(args), (
            f"{service} runs {program(command)}, the Procfile's {name} runs {program(args)}"
        )
        assert normalised(command) == normalised(args), (
            f"{service} runs {command}, the Procfile's {name} runs {args}"
        )


def test_the_http_services_bind_publish_and_check_the_ports_of_the_settings() -> None:
    for service, port in default_ports().items():
        assert service in services(), f"no service {service} (port {port} in the settings)"
        spec = services()[service]
        args = argv(spec["command"])
        host = option(args, "--host") or option(args, "--address")
        bind = option(args, "--bind") or f"{host}:{option(args, '--port')}"
        assert bind == f"0.0.0.0:{port}", f"{service} listens on {bind}, not 0.0.0.0:{port}"
        for host, container in published_ports(spec):
            assert container == port, f"{service} publishes container port {container}"
            assert host in (None, str(port)), f"{service} publishes {port} as host port {host}"
        healthcheck = " ".join(argv((spec.get("healthcheck") or {}).get("test") or []))
        assert f"127.0.0.1:{port}/" in healthcheck, f"{service}'s healthcheck misses port {port}"


PROXY = "proxy"
PROXY_TEMPLATE_DIR = "/etc/nginx/templates/"
# What the proxy stands in front of: its template's upstream and listen variables.
PROXIED = {"order": ("ORDER_UPSTREAM", "ORDER_LISTEN"),
           "flower": ("DASHBOARD_UPSTREAM", "DASHBOARD_LISTEN")}


def proxy_template() -> Path:
    """The repository's file the proxy's image fills in at start (its /etc/nginx/templates/)."""
    mounts = [str(volume).split(":") for volume in services()[PROXY].get("volumes") or []]
    sources = [ROOT / source for source, target, *_ in mounts
               if target.startswith(PROXY_TEMPLATE_DIR) and target.endswith(".template")]
    assert len(sources) == 1, f"the proxy mounts no one template into {PROXY_TEMPLATE_DIR}"
    return sources[0]


def test_the_proxy_alone_publishes_the_order_service_and_the_dashboard() -> None:
    proxy = services()[PROXY]
    assert re.fullmatch(r"nginx:\d+\.\d+\.\d+(-[a-z]+)?", proxy["image"]), (
        f"the proxy's image must be nginx's official one at an exact version: {proxy['image']}")
    env = environment(proxy)
    for service, (upstream, listen) in PROXIED.items():
        port = default_ports()[service]
        assert not published_ports(services()[service]), f"{service} is published past the proxy"
        assert (str(port), port) in published_ports(proxy), f"the proxy does not publish {port}"
        assert env[listen] == str(port) and env[upstream] == f"{service}:{port}", (service, env)
        assert depends_on(proxy)[service]["condition"] == "service_healthy", service


def test_the_proxy_is_given_every_value_its_template_asks_for_and_no_other() -> None:
    template = proxy_template()
    assert template.is_file() and template.is_relative_to(ROOT / "deploy"), template
    asked = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", template.read_text()))
    given = set(environment(services()[PROXY]))
    assert asked == given, f"the template asks for {sorted(asked)}, compose gives {sorted(given)}"


def test_the_proxy_refuses_bodies_over_the_services_own_limit() -> None:
    from glastonbury.web import MAX_BODY_BYTES

    limit = re.search(r"^\s*client_max_body_size (\d+)k;", proxy_template().read_text(),
                      re.MULTILINE)
    assert limit and int(limit.group(1)) * 1024 == MAX_BODY_BYTES


def test_the_proxied_services_believe_forwarded_addresses_from_the_proxy_alone() -> None:
    (address,) = [network["ipv4_address"]
                  for network in services()[PROXY]["networks"].values()]
    subnets = [pool["subnet"] for pool in compose()["networks"]["default"]["ipam"]["config"]]
    assert any(ipaddress.ip_address(address) in ipaddress.ip_network(subnet)
               for subnet in subnets), f"{address} is outside the network's {subnets}"
    for service in PROXIED:
        assert environment(services()[service]).get("TRUSTED_PROXIES") == address, service


def test_every_variable_an_app_service_sets_is_a_declared_setting() -> None:
    for service, spec in app_services().items():
        for name in environment(spec):
            if name.startswith("FLOWER_") and program(argv(spec["command"]))[2:] == ("flower",):
                assert is_flower_option(name), (
                    f"{service} sets {name}, which is no Flower option: Flower ignores it"
                )
                continue
            if name.startswith("GRANIAN_") and program(argv(spec["command"]))[0] == "granian":
                assert name in granian_variables(), f"{service} sets {name}: no granian option"
                continue
            assert settings.declared(name), (
                f"{service} sets {name}, which glastonbury.settings does not declare"
            )


@cache
def granian_variables() -> frozenset[str]:
    """The variables granian reads its options from, as its --help lists them."""
    granian = Path(sys.executable).with_name("granian")
    shown = subprocess.run([str(granian), "--help"], check=True, capture_output=True,
                           text=True, timeout=60).stdout
    return frozenset(re.findall(r"env var:\s*(GRANIAN_\w+)", shown))


def test_granian_logs_as_the_project_does_from_the_file_the_image_installs() -> None:
    python = re.search(r"^FROM python:(\d+\.\d+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert python
    installed = f"/usr/local/lib/python{python.group(1)}/site-packages/"
    shipped = setup_cfg()["options.package_data"]["glastonbury"]
    for service, spec in app_services().items():
        if program(argv(spec["command"]))[0] != "granian":
            continue
        path = environment(spec).get("GRANIAN_LOG_CONFIG", "")
        assert path.startswith(installed), f"{service}: {path!r} is not where pip installs it"
        relative = Path(path.removeprefix(installed))
        assert (ROOT / relative).is_file() and relative.name in shipped, (
            f"{service}: {relative} is not shipped with the package")
        logging_config = json.loads((ROOT / relative).read_text())
        assert set(logging_config["loggers"]) == {"_granian", "granian.access"}


def is_flower_option(name: str) -> bool:
    """Flower's own test of which FLOWER_* variables it applies as options."""
    from flower.command import is_flower_envvar  # type: ignore[import-untyped]

    return bool(is_flower_envvar(name))


def test_the_flower_dashboard_asks_for_the_techlead_login_with_a_required_password() -> None:
    password = environment(services()["flower"]).get("FLOWER_PASSWORD", "")
    assert password.startswith("${FLOWER_PASSWORD:?"), password


def test_every_address_an_app_service_is_given_names_a_service_and_its_port() -> None:
    for service, spec in app_services().items():
        for name, value in environment(spec).items():
            for host, port in addresses(value):
                assert host in services(), f"{service}: {name} points at unknown host {host}"
                listening = listening_ports(host)
                assert port in listening, (
                    f"{service}: {name} uses {host}:{port}, {host} listens on {listening}"
                )


def without_placeholders(value: str) -> str:
    """`${POSTGRES_PASSWORD:?...}` -> `placeholder`, so that the value parses as a URL."""
    return re.sub(r"\$\{[^}]*\}", "placeholder", value)


def addresses(value: str) -> list[tuple[str, int]]:
    """(host, port) of a URL or of a comma-separated host:port list; [] for anything else."""
    if "://" in value:
        url = urlsplit(without_placeholders(value))
        port = url.port or {"http": 80, "redis": 6379, "postgresql": 5432}.get(url.scheme)
        return [(url.hostname, port)] if url.hostname and port else []
    pairs = [item.rsplit(":", 1) for item in value.split(",")]
    if all(
        len(pair) == 2 and re.fullmatch(r"[a-z][\w.-]*", pair[0]) and pair[1].isdigit()
        for pair in pairs
    ):
        return [(host, int(port)) for host, port in pairs]
    return []


def listening_ports(service: str) -> set[int]:
    image = services()[service].get("image", "")
    known = {"redis": {6379}, "postgres": {5432}}
    for prefix, ports in known.items():
        if image.startswith(prefix):
            return ports
    if "kafka" in image:
        listeners = kafka_env()["KAFKA_ADVERTISED_LISTENERS"]
        return {int(port) for port in re.findall(rf"//{service}:(\d+)", listeners)}
    # An app service also listens where its own settings name itself (the relay's wake address).
    own = {port for value in environment(services()[service]).values()
           for host, port in addresses(value) if host == service}
    return own | ({default_ports()[service]} if service in default_ports() else set())


def test_each_app_service_waits_for_the_infrastructure_it_uses_to_be_healthy() -> None:
    infrastructure = set(infrastructure_services())
    for service, spec in app_services().items():
        used = {
            host
            for value in environment(spec).values()
            for host, _port in addresses(value)
            if host in infrastructure
        }
        deps = depends_on(spec)
        for host in sorted(used):
            assert host in deps, f"{service} uses {host} but does not depend on it"
            assert deps[host].get("condition") == "service_healthy", (
                f"{service} does not wait for {host} to be healthy"
            )


def test_every_dependency_that_must_be_healthy_has_a_healthcheck() -> None:
    for service, spec in services().items():
        for dependency, condition in depends_on(spec).items():
            assert dependency in services(), f"{service} depends on unknown {dependency}"
            if condition.get("condition") == "service_healthy":
                assert has_healthcheck(services()[dependency]), f"{dependency} has no healthcheck"


def has_healthcheck(spec: dict) -> bool:
    check = spec.get("healthcheck") or {}
    return bool(check.get("test")) and not check.get("disable") and check["test"] != ["NONE"]


def test_every_http_and_infrastructure_service_has_a_healthcheck() -> None:
    for service in set(infrastructure_services()) | set(default_ports()):
        assert has_healthcheck(services()[service]), f"{service} has no healthcheck"
    for service in ("order", "inventory", "payment"):
        test = " ".join(argv(services()[service]["healthcheck"]["test"]))
        assert f":{default_ports()[service]}/healthz" in test, f"{service} does not check /healthz"


def test_each_web_service_declares_the_route_its_healthcheck_asks_for() -> None:
    for service, spec in app_services().items():
        kind = program(argv(spec["command"]))
        if kind[0] != "granian":
            continue
        test = " ".join(argv(spec["healthcheck"]["test"]))
        path = re.search(r"http://127\.0\.0\.1:\d+(/[\w/-]*)", test)
        assert path, f"{service}'s healthcheck asks for no URL: {test}"
        module = locate(kind[1].split(":")[0])
        strings = {
            node.value
            for node in ast.walk(ast.parse(module.read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
        assert path.group(1) in strings, f"{module} declares no route {path.group(1)}"


@pytest.mark.parametrize("service", ["worker", "bridge"])
def test_the_worker_and_the_bridge_can_be_scaled(service: str) -> None:
    spec = services()[service]
    assert "container_name" not in spec, f"{service} has a container_name: it cannot scale"
    hosts = [host for host, _port in published_ports(spec) if host]
    assert not hosts, f"{service} publishes host ports {hosts}: a second replica would clash"


def test_every_replicated_service_can_run_more_than_once() -> None:
    for service, spec in services().items():
        if int((spec.get("deploy") or {}).get("replicas", 1)) > 1:
            assert "container_name" not in spec, f"{service} is replicated but named"
            hosts = [host for host, _port in published_ports(spec) if host]
            assert not hosts, f"{service} is replicated but publishes host ports {hosts}"


def test_there_is_exactly_one_beat() -> None:
    beats = [
        name for name, spec in app_services().items()
        if program(argv(spec["command"]))[2:] == ("beat",)
    ]
    assert beats == ["beat"], beats
    assert int((services()["beat"].get("deploy") or {}).get("replicas", 1)) == 1


def kafka_env() -> dict[str, str]:
    return environment(services()["kafka"])


def test_kafka_runs_in_kraft_mode_without_zookeeper() -> None:
    for name, spec in services().items():
        assert "zookeeper" not in name.lower() and "zookeeper" not in spec.get("image", ""), name
    env = kafka_env()
    assert services()["kafka"]["image"].startswith("apache/kafka:")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "KAFKA_ZOOKEEPER_CONNECT" not in env
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in env["KAFKA_LISTENERS"]
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"].lower() == "false"
    healthcheck = " ".join(argv(services()["kafka"]["healthcheck"]["test"]))
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh" in healthcheck


def test_the_apps_bootstrap_from_the_listener_kafka_advertises() -> None:
    listeners = kafka_env()["KAFKA_ADVERTISED_LISTENERS"].split(",")
    advertised = {listener.split("://", 1)[1] for listener in listeners}
    for service, spec in app_services().items():
        servers = environment(spec).get("KAFKA_BOOTSTRAP_SERVERS")
        if servers:
            assert set(servers.split(",")) <= advertised, f"{service}: {servers} vs {advertised}"


KAFKA_START = ROOT / "deploy" / "kafka-start.sh"


def kafka_clients() -> dict[str, dict[str, str]]:
    """Each app service given a Kafka broker, and its environment."""
    return {service: environment(spec) for service, spec in app_services().items()
            if "KAFKA_BOOTSTRAP_SERVERS" in environment(spec)}


def acls() -> list[tuple[str, frozenset[str], str, str]]:
    """(principal, operations, resource type, resource) of each `allow` in kafka-start.sh, with
    the script's topic variables resolved to compose's topic names."""
    topics = {"$RESULTS": kafka_env()["PAYMENT_RESULTS_TOPIC"],
              "$DEAD_LETTERS": kafka_env()["PAYMENT_RESULTS_DLQ_TOPIC"]}
    found = []
    for line in KAFKA_START.read_text().splitlines():
        if not line.startswith("allow "):
            continue
        words = [word.strip('"') for word in shlex.split(line)[1:]]
        operations = frozenset(words[i + 1] for i, word in enumerate(words)
                               if word == "--operation")
        kind = next(word for word in words if word in ("--topic", "--group", "--cluster"))
        resource = words[words.index(kind) + 1]
        found.append((words[0], operations, kind.removeprefix("--"),
                      topics.get(resource, resource)))
    return found


def test_kafka_takes_clients_by_scram_only_and_keeps_its_plaintext_listeners_on_loopback() -> None:
    env = kafka_env()
    protocols = dict(pair.split(":")
                     for pair in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    for listener in env["KAFKA_LISTENERS"].split(","):
        name, address = listener.split("://")
        if protocols[name] == "PLAINTEXT":
            assert address.startswith("127.0.0.1:"), f"{listener} is plaintext beyond loopback"
        else:
            assert protocols[name] in ("SASL_PLAINTEXT", "SASL_SSL"), listener
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert env["KAFKA_SUPER_USERS"] == "User:ANONYMOUS", "only the loopback listeners' ANONYMOUS"
    assert "kafka-start.sh" in " ".join(argv(services()["kafka"]["entrypoint"]))
    assert any(volume.startswith("./deploy/kafka-start.sh:")
               for volume in services()["kafka"]["volumes"])
    assert "kafka-ready" in " ".join(argv(services()["kafka"]["healthcheck"]["test"]))


def test_each_kafka_client_connects_as_a_user_of_its_own_that_the_broker_creates() -> None:
    clients = kafka_clients()
    assert set(clients) == {"payment-relay", "bridge"}, "only the relay and the bridge use Kafka"
    created = dict(re.findall(r'^user (\S+) "\$\{(\w+):\?', KAFKA_START.read_text(), re.MULTILINE))
    usernames = [env["KAFKA_USERNAME"] for env in clients.values()]
    assert len(set(usernames)) == len(usernames), "two clients share a Kafka user"
    for service, env in clients.items():
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT", service
        assert env["KAFKA_SASL_MECHANISM"] == kafka_env()["KAFKA_SASL_ENABLED_MECHANISMS"]
        user = env["KAFKA_USERNAME"]
        assert user in created, f"{service} connects as {user}, whom the broker does not know"
        assert env["KAFKA_PASSWORD"] == kafka_env()[created[user]], (
            f"{service}'s password is not the one the broker gives {user}")


def test_only_the_relay_writes_payment_results_and_only_the_bridge_reads_them() -> None:
    from orchestrator.entrypoints.payment_results_bridge import GROUP_ID

    results, dead_letters = (kafka_env()["PAYMENT_RESULTS_TOPIC"],
                             kafka_env()["PAYMENT_RESULTS_DLQ_TOPIC"])
    relay, bridge = (kafka_clients()[service]["KAFKA_USERNAME"]
                     for service in ("payment-relay", "bridge"))
    granted = acls()
    writers = {who for who, operations, kind, name in granted
               if kind == "topic" and name == results and "Write" in operations}
    readers = {who for who, operations, kind, name in granted
               if kind == "topic" and name == results and "Read" in operations}
    assert (writers, readers) == ({relay}, {bridge})
    assert (bridge, frozenset({"Read"}), "group", GROUP_ID) in granted
    assert {(who, kind) for who, _, kind, _ in granted} <= {
        (relay, "topic"), (bridge, "topic"), (bridge, "group")}, "an ACL beyond the two clients"
    assert {name for _, _, kind, name in granted if kind == "topic"} == {results, dead_letters}


def test_the_payment_results_partitions_match_the_settings_default() -> None:
    default = settings.PAYMENT_RESULTS_PARTITIONS.default
    for service, spec in app_services().items():
        value = environment(spec).get("PAYMENT_RESULTS_PARTITIONS")
        if value is not None:
            assert value == default, f"{service}: {value} partitions"


def test_postgres_creates_every_database_the_services_are_given() -> None:
    postgres = services()["postgres"]
    mounts = [str(volume) for volume in postgres.get("volumes") or []]
    init = [m for m in mounts if ":/docker-entrypoint-initdb.d/" in m or m.endswith("initdb.d")]
    assert init, "postgres mounts no init script"
    source = ROOT / init[0].split(":", 1)[0]
    assert source.is_file() and source.is_relative_to(ROOT / "deploy"), source
    # `create <role> <database> "$<PASSWORD VARIABLE>"`: a role owning one database.
    created = {database: (role, variable) for role, database, variable in re.findall(
        r'^create (\w+) (\w+) "\$(\w+)"$', source.read_text(), re.MULTILINE)}
    assert created, f"{source} creates no database"
    superuser = environment(postgres)["POSTGRES_USER"]
    for service, spec in app_services().items():
        for name, value in environment(spec).items():
            if not name.endswith("_DATABASE_URL"):
                continue
            url = urlsplit(without_placeholders(value))
            database = url.path.lstrip("/")
            assert database in created, f"{service}: {name} names {database}, not created"
            role, variable = created[database]
            assert url.username == role != superuser, (
                f"{service}: {name} must connect as {role}, the owner of {database} alone")
            assert value.startswith(f"postgresql://{role}:${{{variable}:?"), (
                f"{service}: {name} must take its password from {variable}")
            assert environment(postgres)[variable] == f"${{{variable}:?set {variable}}}", (
                f"postgres must be given {variable} to create {role}")


MIGRATE = "migrate"   # the one-shot schema job: the one process given every database


def test_each_database_url_is_given_only_to_the_processes_of_its_service() -> None:
    for service, spec in app_services().items():
        runs = program(argv(spec["command"]))[1]
        if service == MIGRATE:
            continue
        for name in environment(spec):
            if name.endswith("_DATABASE_URL"):
                owner = name.removesuffix("_DATABASE_URL").lower()
                package = owner if owner == "orchestrator" else f"{owner}_service"
                assert runs.split(".")[0].split(":")[0] == package, (
                    f"{service} runs {runs} but is given {name}: services never share a database"
                )


def test_the_migrate_job_creates_every_schema_before_any_process_uses_a_database() -> None:
    migrate = app_services()[MIGRATE]
    assert program(argv(migrate["command"])) == ("python -m", "glastonbury.migrate")
    assert migrate.get("restart") == "no", "a one-shot job must not be restarted when it is done"
    urls = {name for name in environment(migrate) if name.endswith("_DATABASE_URL")}
    assert urls == {f"{db.upper()}_DATABASE_URL" for db in ("order", "inventory", "payment",
                                                            "orchestrator")}
    for service, spec in app_services().items():
        if service == MIGRATE or not any(name.endswith("_DATABASE_URL")
                                         for name in environment(spec)):
            continue
        condition = depends_on(spec).get(MIGRATE, {}).get("condition")
        assert condition == "service_completed_successfully", (
            f"{service} uses a database but does not wait for the migrate job to finish")


def redis_server_argv() -> list[str]:
    """The redis-server command line (run by a shell, which fills in the password)."""
    command = argv(services()["redis"]["command"])
    if command[:2] == ["/bin/sh", "-c"]:
        command = shlex.split(command[2])
    return command[1:] if command[0] == "exec" else command


def test_redis_keeps_an_append_only_file_and_answers_ping() -> None:
    redis = services()["redis"]
    assert redis["image"].startswith("redis:")
    assert option(redis_server_argv(), "--appendonly") == "yes"
    assert "ping" in " ".join(argv(redis["healthcheck"]["test"]))


def test_redis_asks_every_client_for_the_required_password() -> None:
    redis = services()["redis"]
    assert environment(redis)["REDIS_PASSWORD"] == "${REDIS_PASSWORD:?set REDIS_PASSWORD}"
    assert option(redis_server_argv(), "--requirepass") == "$$REDIS_PASSWORD"
    assert "REDISCLI_AUTH" in " ".join(argv(redis["healthcheck"]["test"]))
    urls = {service: environment(spec)["REDIS_URL"] for service, spec in app_services().items()
            if "REDIS_URL" in environment(spec)}
    assert urls and all(url.startswith("redis://:${REDIS_PASSWORD:?") for url in urls.values()), (
        urls)


def test_whoever_starts_a_saga_has_the_order_messages_key() -> None:
    """The order service signs each `saga.start`; the workers check it and the reconciler in
    them signs the sagas it starts."""
    for service in ("order", "worker"):
        assert environment(services()[service])["ORDER_MESSAGES_SIGNING_KEY"] == (
            "${ORDER_MESSAGES_SIGNING_KEY:?set ORDER_MESSAGES_SIGNING_KEY}"), service


def test_the_image_runs_as_a_user_and_installs_what_the_commands_need() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.MULTILINE)
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}, "the image runs as root"
    # The lock CI tested, then the project itself and nothing else.
    assert re.search(r"pip install --require-hashes -r requirements/image\.txt", dockerfile)
    assert re.search(r"pip install --no-deps .*\.(\s|$)", dockerfile)
    requires = setup_cfg()["options"]["install_requires"]
    for needed in {program(argv(spec["command"]))[0] for spec in app_services().values()}:
        if needed != "python -m":
            assert re.search(rf"^\s*{needed}\b", requires, re.MULTILINE), f"{needed} not installed"
    assert re.search(r"^\s*flower\b", requires, re.MULTILINE)


def test_the_tracing_switch_every_process_gets_has_the_extra_it_needs_in_the_image() -> None:
    for service, spec in app_services().items():
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" in environment(spec), f"{service} cannot trace"
    # The image installs requirements/image.txt, locked with the tracing extra (tests/locks.py).
    assert "requirements/image.txt" in (ROOT / "Dockerfile").read_text()
    assert LOCKED_EXTRAS["image.txt"] == ("tracing",)
    assert pins_of("image.txt", "opentelemetry-exporter-otlp-proto-http")


def test_the_build_context_keeps_what_pip_install_needs() -> None:
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in ["setup.cfg", "pyproject.toml", "README.md", "requirements", *code_packages()]:
        assert needed not in ignored, f".dockerignore leaves out {needed}"


def compose_command() -> list[str] | None:
    """A docker compose that answers `version`: the v1 `docker-compose`, or the `docker compose`
    plugin. The Docker CLI alone (no plugin) answers "unknown command" and is no compose."""
    for command in (["docker-compose"], ["docker", "compose"]):
        if not shutil.which(command[0]):
            continue
        answer = subprocess.run([*command, "version"], check=False, capture_output=True,
                                text=True, timeout=60)
        if answer.returncode == 0:
            return command
    return None


def test_docker_compose_validates_the_file_when_it_is_installed() -> None:
    command = compose_command()
    if command is None:
        pytest.skip("no working docker compose: install Debian's docker-compose (.ci/run does "
                    "as root) or Docker's compose plugin to validate the file")
    result = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "config", "-q"],
        check=False, capture_output=True, text=True, timeout=60, cwd=ROOT,
        # every variable the file requires (`${NAME:?...}`), set
        env={**os.environ, **{name: "x" for name in re.findall(
            r"\$\{(\w+):\?", COMPOSE_FILE.read_text())}},
    )
    if result.returncode and "docker daemon" in result.stderr.lower():
        pytest.skip(f"docker compose needs a daemon here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr


def test_every_secret_is_required_without_a_default() -> None:
    text = COMPOSE_FILE.read_text()
    for secret in ("POSTGRES_PASSWORD", "FLOWER_PASSWORD", "ORCHESTRATOR_TOKEN", "ADMIN_TOKEN",
                   "PAYMENT_RESULTS_SIGNING_KEY", "ORDER_DB_PASSWORD", "INVENTORY_DB_PASSWORD",
                   "PAYMENT_DB_PASSWORD", "ORCHESTRATOR_DB_PASSWORD",
                   "PAYMENT_RELAY_KAFKA_PASSWORD", "BRIDGE_KAFKA_PASSWORD"):
        uses = re.findall(rf"\$\{{{secret}([^}}]*)\}}", text)
        assert uses and all(use.startswith(":?") for use in uses), (
            f"{secret} must be required wherever it is used (${{{secret}:?...}})")


def test_prometheus_scrapes_the_dashboards_metrics_with_the_techlead_login() -> None:
    from orchestrator.entrypoints.dashboard.login import USER

    prometheus = services()["prometheus"]
    assert prometheus["image"].startswith("prom/prometheus:")
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in prometheus["volumes"]}
    config_path = ROOT / mounted["/etc/prometheus/prometheus.yml"]
    config = yaml.safe_load(config_path.read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["basic_auth"]["username"] == USER
    start = " ".join(argv(prometheus["entrypoint"]))
    assert f"> {job['basic_auth']['password_file']}" in start, "the password file is not written"
    assert "$$FLOWER_PASSWORD" in start and "--config.file=/etc/prometheus/prometheus.yml" in start
    assert environment(prometheus)["FLOWER_PASSWORD"] == environment(services()["flower"])[
        "FLOWER_PASSWORD"]
    (target,) = job["static_configs"][0]["targets"]
    host, port = target.split(":")
    assert host == "flower" and int(port) in listening_ports("flower")
    assert depends_on(prometheus)["flower"]["condition"] == "service_healthy"
    assert prometheus["ports"] and all(str(entry).startswith("127.0.0.1:")
                                       for entry in prometheus["ports"]), (
        "Prometheus has no login: publish it on the host's loopback only")


def test_the_grafana_dashboard_asks_only_for_metrics_that_are_served(tmp_path: Path) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from orchestrator.adapters.saga_metrics import SagaCollector
    from orchestrator.adapters.store import SagaStore, StepRun, now
    from orchestrator.domain.model import OrderLine, OrderPlaced

    store = SagaStore.connect(f"sqlite:///{tmp_path / 'orchestrator.db'}")
    store.create_if_absent(OrderPlaced("o1", "c1", Decimal("1.00"), (OrderLine("t1", 1),)))
    store.finish_step("o1", StepRun("reserve_tickets", "reserved", now()))
    store.record_reconciler_pass({"driven": 0, "checked": 0, "voided": 0, "started": 0})
    store.count_dead_letters({"unsigned": 1})
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


def test_the_order_service_keeps_threads_free_beside_its_waiting_clients() -> None:
    """Clients waiting for their order (`?wait=`) each hold one of the server's threads: at most
    ORDER_WAITING_CLIENTS of them, with threads to spare for orders and reads."""
    threads = int(environment(services()["order"]).get("ORDER_THREADS")
                  or settings.ORDER_THREADS.default)
    waiting = int(environment(services()["order"]).get("ORDER_WAITING_CLIENTS")
                  or settings.order_waiting_clients())
    assert threads >= waiting + 2, (
        f"the order service runs {threads} threads and lets {waiting} clients wait")
