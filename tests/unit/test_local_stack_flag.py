"""GLASTONBURY_LOCAL_STACK means the local stack only when it is exactly 1."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from glastonbury import auth, logs


@pytest.fixture
def root_logging() -> Iterator[None]:
    """logs.configure replaces the root logger's handlers: put them back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("value", ["0", "false", "no", "true", "yes", " 1", "01"])
def test_any_value_but_1_refuses_the_documented_credentials_naming_the_value(
        monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("GLASTONBURY_LOCAL_STACK", value)
    monkeypatch.setenv("ADMIN_TOKEN", auth.LOCAL_DEFAULTS["ADMIN_TOKEN"])
    with pytest.raises(SystemExit, match=f"GLASTONBURY_LOCAL_STACK is {value!r}, not 1"):
        auth.secret("ADMIN_TOKEN")


def test_unset_the_documented_credentials_are_refused_and_1_takes_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_TOKEN", auth.LOCAL_DEFAULTS["ADMIN_TOKEN"])
    monkeypatch.delenv("GLASTONBURY_LOCAL_STACK", raising=False)
    with pytest.raises(SystemExit, match="documented local default"):
        auth.secret("ADMIN_TOKEN")
    monkeypatch.setenv("GLASTONBURY_LOCAL_STACK", "1")
    assert auth.secret("ADMIN_TOKEN") == auth.LOCAL_DEFAULTS["ADMIN_TOKEN"]


@pytest.mark.parametrize(("value", "warned"), [("0", True), ("true", True), ("", False),
                                               ("1", False)])
def test_a_part_that_starts_with_any_value_but_1_says_so_in_a_warning(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], root_logging: None,
        value: str, warned: bool) -> None:
    monkeypatch.setenv("GLASTONBURY_LOCAL_STACK", value)
    logs.configure("order")
    lines = [line for line in capsys.readouterr().err.splitlines() if "LOCAL_STACK" in line]
    assert len(lines) == warned
    assert all("WARNING" in line and f"GLASTONBURY_LOCAL_STACK is {value!r}, not 1" in line
               for line in lines)
