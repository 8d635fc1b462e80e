"""The local stack for end-to-end tests: the topology's parts, started as `make up` starts them.

Each part runs as its own process group so a test can kill one (SIGKILL, like a crash) and start
it again; ports are free ones and state lives in a temporary folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
import requests

from glastonbury.auth import LOCAL_DEFAULTS
from glastonbury.topology import PARTS
from orchestrator.entrypoints.dashboard.login import USER
from devtools.devstack import binaries
from devtools.devstack.__main__ import PORTS, ROOT, migrate, parts_to_run, stack_environment

# The test stacks, the bench and the chaos runs place hundreds of orders a second from one
# address for one customer, and follow each with `?wait=`: the sale's limits raised, and named
# in the bench's and the chaos run's results. (tests/e2e/test_sale_attacks.py runs with limits.)
RAISED_LIMITS = {
    "ORDER_RATE_LIMIT_PER_ADDRESS": "100000/second",
    "ORDER_RATE_LIMIT_PER_CUSTOMER": "100000/second",
    "ORDER_WAITING_CLIENTS_PER_ADDRESS": "16",
}
FAST_SETTINGS = {
    **RAISED_LIMITS,
    "PAYMENT_RESULT_TIMEOUT": "4",
    "SAGA_STUCK_AFTER": "3",
    "SAGA_RECONCILE_INTERVAL": "1",
    "STEP_MAX_ATTEMPTS": "3",
    "STEP_RETRY_DELAY": "0.2",
    "STEP_RETRY_MAX_DELAY": "1",
    "HTTP_TIMEOUT": "2",
    "ORDER_BODY_READ_TIMEOUT": "3",
}


def isolated_environment(workdir: Path) -> dict[str, str]:
    """This process's environment for a stack of its own: embedded servers and SQLite files
    under `workdir`, every port a free one, whatever servers the caller's shell points at, and
    the local stack's own credentials (.env.example's), as `make up` has them."""
    environ = {k: v for k, v in os.environ.items()
               if k not in ("REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS", *LOCAL_DEFAULTS)
               and not k.endswith("_DATABASE_URL")}
    for name in PORTS:
        environ[name] = str(binaries.free_port())
    environ["PAYMENT_RELAY_WAKE_ADDRESS"] = f"127.0.0.1:{binaries.free_port()}"
    environ["GLASTONBURY_VAR"] = str(workdir / "var")
    return environ


class Stack:
    """Every part of the local stack, each startable and killable on its own."""

    def __init__(self, workdir: Path, **overrides: str):
        environ = isolated_environment(workdir)
        environ.update(FAST_SETTINGS, **overrides)
        self.environ = environ   # what `make up` would be started with for the same stack
        self.env = stack_environment(environ)
        self.parts = parts_to_run(environ)
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.processes: dict[str, subprocess.Popen] = {}
        self.migrated = False
        self.servers: tuple[str, ...] = ("redis", "kafka")

    def url(self, part: str) -> str:
        port = PARTS[part].port
        assert port is not None, f"{part} listens on no port"
        return f"http://127.0.0.1:{self.env[port.name]}"

    def start(self, *names: str) -> None:
        if not self.migrated:
            # As `make up` does: every schema in place before any part (or test) reads it.
            assert migrate(self.env) == 0, "the databases' schemas could not be created"
            self.migrated = True
        for name in names or tuple(self.parts):
            self._run(name)

    def add_server(self, name: str, command: str) -> None:
        """Start a server of the caller's (the chaos run's PostgreSQL) now, before the schemas
        are made; from then on it is killed, started and stopped (last) as a part."""
        self.parts[name] = command
        self.servers += (name,)
        self._run(name)

    def _run(self, name: str) -> None:
        log = open(self.logs / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(
            self.parts[name], shell=True, cwd=ROOT, env=self.env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """End a part and everything it started (a crash with SIGKILL, a stop with SIGTERM)."""
        self._end([name], sig)

    def stop(self) -> None:
        """Stop every part, the servers (Redis, Kafka) last: a part that shuts down with its
        broker gone retries it (the dashboard for good) instead of ending."""
        servers = [name for name in self.servers if name in self.processes]
        self._end([name for name in self.processes if name not in servers], signal.SIGTERM)
        self._end(servers, signal.SIGTERM)

    def _end(self, names: list[str], sig: int, grace_s: float = 15) -> None:
        """Signal the parts' process groups at once, then wait until every process of them has
        ended (a shell's end is not its command's); SIGKILL what is left after `grace_s`."""
        groups = [self.processes.pop(name) for name in names]
        for process in groups:
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace_s
        for process in groups:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _gone_or_killed(process.pid, deadline)

    def wait_until_ready(self, timeout_s: float = 90) -> None:
        """Until every part started that has a health route answers on it."""
        for name in self.processes:
            if name in PARTS and PARTS[name].health:
                wait_for(lambda part=name: self.healthy(part), timeout_s, f"{name} healthy")

    def healthy(self, name: str) -> bool:
        """Whether the part answers on its health route (the dashboard's behind its login;
        the services ignore the login)."""
        login = (USER, self.env["FLOWER_PASSWORD"])
        return _answers(f"{self.url(name)}{PARTS[name].health}", login)

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _gone_or_killed(group: int, deadline: float) -> None:
    """Wait until no process of the group runs; SIGKILL the rest at `deadline` (monotonic), so
    no test leaves a part running. (An ended process may stay a zombie until init reaps it.)"""
    try:
        wait_for(lambda: not _running_in(group), deadline - time.monotonic(),
                 f"process group {group} to end", interval_s=0.05)
    except AssertionError:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _running_in(group: int) -> bool:
    for process in psutil.process_iter(["status"]):
        try:
            if (process.info["status"] != psutil.STATUS_ZOMBIE
                    and os.getpgid(process.pid) == group):
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


def _answers(url: str, login: tuple[str, str]) -> bool:
    try:
        return requests.get(url, auth=login, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def wait_for(condition: Any, timeout_s: float, what: str, interval_s: float = 0.1) -> Any:
    """Poll `condition()` until it returns something truthy; fail after the deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for: {what}")
