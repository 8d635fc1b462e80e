"""The locks (requirements/*.txt, written by `make lock`) and setup.cfg's requirements, as the
tests read them: no network, no pip."""

from __future__ import annotations

import configparser
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements"
# What each lock holds: setup.cfg's install_requires and these extras (the Makefile's and the
# Dockerfile's installs: the image, `make up`, `make test`).
LOCKED_EXTRAS = {
    "image.txt": ("tracing",),
    "run.txt": ("local", "tracing"),
    "dev.txt": ("local", "tracing", "dev"),
}
# uv's annotation for a requirement that setup.cfg itself names.
FROM_SETUP_CFG = "glastonbury (setup.cfg)"


@dataclass(frozen=True)
class Pin:
    """One line of a lock: a name at one version, where its marker holds."""
    name: str
    version: str
    marker: Marker | None
    hashes: tuple[str, ...]
    via: tuple[str, ...]
    line: str

    def __str__(self) -> str:
        return self.line


def read_lock(path: Path) -> list[Pin]:
    """The pins of a requirements file as uv writes it: `name==version ; marker \\`, its
    `--hash=` lines, then `# via` comments naming what asked for it."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        logical.append(pending + raw)
        pending = ""
    pins: list[Pin] = []
    via: list[str] = []
    for line in logical:
        text = line.strip()
        if not text:
            continue
        if text.startswith("#"):
            comment = text.lstrip("#").strip()
            if pins and (comment.startswith("via") or via):
                via.append(comment.removeprefix("via").strip())
                pins[-1] = Pin(**{**pins[-1].__dict__, "via": tuple(v for v in via if v)})
            continue
        via = []
        requirement_text = text.split(" --hash=")[0].strip()
        requirement = Requirement(requirement_text)
        [specifier] = list(requirement.specifier) or [None]
        assert specifier is not None and specifier.operator == "==", (
            f"{path.name}: {requirement_text!r} is not pinned to one version")
        pins.append(Pin(name=canonicalize_name(requirement.name), version=specifier.version,
                        marker=requirement.marker, hashes=tuple(re.findall(r"--hash=(\S+)", text)),
                        via=(), line=requirement_text))
    return pins


@cache
def lock(name: str) -> tuple[Pin, ...]:
    return tuple(read_lock(REQUIREMENTS / name))


def pins_of(name: str, package: str) -> list[Pin]:
    return [pin for pin in lock(name) if pin.name == canonicalize_name(package)]


@cache
def setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config


def _requirements(text: str) -> list[Requirement]:
    return [Requirement(line.strip()) for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def install_requires() -> list[Requirement]:
    return _requirements(setup_cfg()["options"]["install_requires"])


def extra(name: str) -> list[Requirement]:
    return _requirements(setup_cfg()["options.extras_require"][name])


def extras() -> list[str]:
    return list(setup_cfg()["options.extras_require"])


def requirements_of(lock_name: str) -> list[Requirement]:
    """What setup.cfg asks of a lock: install_requires and the lock's extras."""
    return install_requires() + [requirement for name in LOCKED_EXTRAS[lock_name]
                                 for requirement in extra(name)]


def build_requires() -> list[Requirement]:
    """pyproject.toml's build-system.requires."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [Requirement(text) for text in pyproject["build-system"]["requires"]]


def build_in() -> list[Requirement]:
    return _requirements((REQUIREMENTS / "build.in").read_text())
