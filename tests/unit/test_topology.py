"""The parts declared once (glastonbury.topology): the Procfile printed from them, each part's
command, port, health route, database and needs true to the code, and `make up` starting them.
(docker-compose.yml is held to the same declaration by test_docker_compose.py.)"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import shlex
from operator import attrgetter
from pathlib import Path

import pytest
from celery import Celery
from celery.app.utils import find_app
from flask import Blueprint, Flask

from devtools.devstack.__main__ import parts_to_run
from glastonbury import settings, topology
from glastonbury.migrate import head_revision, schema
from glastonbury.topology import DATABASES, MIGRATE, PARTS, Part

ROOT = Path(__file__).resolve().parents[2]
NAME = attrgetter("name")


def option(args: list[str], name: str) -> str | None:
    """The value of `--name value` or `--name=value`."""
    found = re.search(rf"(?:^| ){name}[ =](\S+)", " ".join(args))
    return found.group(1) if found else None


def code_of(command: str) -> str:
    """The module a command runs: granian's factory's, `python -m`'s, celery's `-A` app."""
    args = shlex.split(command)
    if args[0] == "granian":
        return [arg for arg in args if ":" in arg][0].split(":")[0]
    if args[0] == "celery":
        return option(args, "-A") or ""
    assert args[:2] == ["python", "-m"], f"no way to find the code of {command!r}"
    return args[2]


def test_the_procfile_is_the_one_the_topology_prints() -> None:
    assert (ROOT / "Procfile").read_text() == topology.procfile(), (
        "run: python -m glastonbury.topology > Procfile")


@pytest.mark.parametrize("command", [part.command for part in PARTS.values()] + [MIGRATE],
                         ids=[*PARTS, "migrate"])
def test_each_command_runs_code_that_exists(command: str) -> None:
    args, module = shlex.split(command), code_of(command)
    if args[0] == "granian":
        factory = getattr(importlib.import_module(module), args[-1].split(":")[1])
        inspect.signature(factory).bind()   # `--factory`: called with no argument
        assert option(args, "--interface") in ("wsgi", "rsgi")   # a Flask app, or its gateway
    elif args[0] == "celery":
        assert isinstance(find_app(module), Celery), f"celery -A {module} finds no Celery app"
    else:
        spec = importlib.util.find_spec(module)
        assert spec is not None, f"no module {module}"
        if spec.submodule_search_locations is not None:
            assert importlib.util.find_spec(f"{module}.__main__"), f"{module} has no __main__"


@pytest.mark.parametrize("part", [part for part in PARTS.values() if part.port], ids=NAME)
def test_a_part_that_listens_does_so_on_the_loopback_at_its_port_setting(part: Part) -> None:
    assert part.port is not None
    args = shlex.split(part.command)
    if part.embedded:   # the devstack's own command starts the server at the setting's port
        return
    assert (option(args, "--host") or option(args, "--address")) == "127.0.0.1"
    assert option(args, "--port") == f"${part.port.name}", part.command


def served_routes(part: Part) -> set[str]:
    """The paths the part's code serves: its Flask blueprints', or the dashboard's of Flower."""
    module = importlib.import_module(code_of(part.command))
    blueprints = [value for value in vars(module).values() if isinstance(value, Blueprint)]
    if blueprints:
        app = Flask("routes")
        for blueprint in blueprints:
            app.register_blueprint(blueprint)
        return {rule.rule for rule in app.url_map.iter_rules()}
    from orchestrator.entrypoints.dashboard.app import flowers_pages_and_reads

    return {rule[0] if isinstance(rule, tuple) else rule.regex.pattern.rstrip("$")
            for rule in flowers_pages_and_reads()}


@pytest.mark.parametrize("part", [part for part in PARTS.values() if part.health], ids=NAME)
def test_each_health_route_is_one_the_part_serves(part: Part) -> None:
    assert part.port, f"{part.name} has a health route but no port to answer it on"
    assert part.health in served_routes(part), f"{part.name} serves no {part.health}"


@pytest.mark.parametrize("name", DATABASES)
def test_each_database_has_a_schema_with_migrations_and_a_url_setting(name: str) -> None:
    assert head_revision(schema(name)), f"{name}'s schema has no migrations"
    assert name in settings.DATABASE_URLS, f"no {name.upper()}_DATABASE_URL declared"


def test_each_part_with_a_database_runs_the_code_of_the_service_that_owns_it() -> None:
    """Services never share a database: only the owner's processes are given its URL."""
    for part in PARTS.values():
        if part.database:
            owner = DATABASES[part.database].split(".")[0]
            assert code_of(part.command).split(".")[0] == owner, (part.name, owner)


def test_what_a_part_needs_is_a_part_found_at_a_setting() -> None:
    for part in PARTS.values():
        for needed in part.needs:
            assert needed in PARTS and PARTS[needed].address, (part.name, needed)


def test_a_part_the_stack_runs_more_than_once_may_run_more_than_once() -> None:
    for part in PARTS.values():
        assert part.runs == 1 or part.scales, part.name


def test_make_up_runs_every_part_as_many_times_as_asked_but_the_servers_of_ones_own() -> None:
    assert set(parts_to_run({})) == {*PARTS, "worker2"}
    started = parts_to_run({"REDIS_URL": "redis://elsewhere:6379/0", "WORKER_PROCESSES": "3"})
    assert "redis" not in started and "kafka" in started
    assert started["worker3"] == PARTS["worker"].command.replace("worker@%h", "worker3@%h")
