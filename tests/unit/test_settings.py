"""Every setting declared once (glastonbury.settings); the docs printed from the declarations."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

from glastonbury import auth, settings
import devtools.devstack.__main__ as devstack
from glastonbury.settings_docs import env_example, markdown
from orchestrator.config import retry_policy
from orchestrator.domain.steps import REQUEST_PAYMENT, RESERVE_TICKETS

ROOT = Path(__file__).resolve().parents[2]
# Reading the environment: `os.environ`, `os.getenv`, `from os import environ`.
READS_THE_ENVIRONMENT = re.compile(
    r"\bos\.(environ|getenv)\b|from os import .*\b(environ|getenv)\b")
# Handing the whole environment to the local stack's parts is no read of a variable.
ALLOWED = "dict(os.environ)"
README_TABLE = re.compile(r"<!-- settings: [^\n]*-->\n(.*?)<!-- /settings -->", re.DOTALL)


def code_files() -> list[Path]:
    """The modules of the packages that `pip install .` installs (setup.cfg)."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    patterns = config["options.packages.find"]["include"].split()
    packages = sorted({pattern.rstrip("*").rstrip(".") for pattern in patterns})
    return sorted(path for package in packages for path in (ROOT / package).rglob("*.py"))


def test_no_module_but_the_settings_reads_the_environment() -> None:
    readers = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
               for path in code_files() if path != ROOT / "glastonbury" / "settings.py"
               for number, line in enumerate(path.read_text().splitlines(), 1)
               if READS_THE_ENVIRONMENT.search(line.replace(ALLOWED, ""))]
    assert not readers, ("read the environment through a declaration of glastonbury.settings:\n"
                         + "\n".join(readers))


def test_the_env_example_is_the_one_the_declarations_print() -> None:
    assert (ROOT / ".env.example").read_text() == env_example(), (
        "run: python -m glastonbury.settings_docs --env-example > .env.example")


def test_the_readme_lists_the_settings_the_declarations_print() -> None:
    table = README_TABLE.search((ROOT / "README.md").read_text())
    assert table, "README.md has no <!-- settings: ... --> table"
    assert table.group(1) == markdown(), (
        "paste `python -m glastonbury.settings_docs --markdown` between the README's markers")


def test_an_empty_variable_takes_the_default_unless_empty_means_none(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_TIMEOUT", "")
    monkeypatch.setenv("PAYMENT_RELAY_WAKE_ADDRESS", "")
    assert settings.HTTP_TIMEOUT.number() == 5.0
    assert settings.PAYMENT_RELAY_WAKE_ADDRESS.text() == ""
    monkeypatch.delenv("PAYMENT_RELAY_WAKE_ADDRESS")
    assert settings.PAYMENT_RELAY_WAKE_ADDRESS.text() == "127.0.0.1:18089"


def test_a_step_takes_its_own_retry_settings_before_every_steps(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEP_MAX_ATTEMPTS", "7")
    monkeypatch.setenv("SAGA_RESERVE_TICKETS_MAX_ATTEMPTS", "3")
    monkeypatch.delenv("STEP_RETRY_DELAY", raising=False)
    assert retry_policy(RESERVE_TICKETS).max_attempts == 3
    assert retry_policy(REQUEST_PAYMENT).max_attempts == 7
    assert REQUEST_PAYMENT.retry is not None
    assert retry_policy(REQUEST_PAYMENT).first_delay == REQUEST_PAYMENT.retry.first_delay
    assert settings.declared("SAGA_RESERVE_TICKETS_RETRY_MAX_DELAY")
    assert not settings.declared("SAGA_RESERVE_TICKETS_PATIENCE")
    assert not settings.declared("SAGA_MAX_ATTEMPTS")


def test_the_local_stack_runs_with_the_declared_local_values_and_credentials(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devstack, "env_file", lambda path: {})   # whatever your .env says
    env = devstack.stack_environment({})
    assert {name: env[name] for name in settings.local_values()} == settings.local_values()
    assert auth.LOCAL_DEFAULTS == {"ORCHESTRATOR_TOKEN": "local-orchestrator-token",
                                   "ADMIN_TOKEN": "local-admin-token",
                                   "PAYMENT_RESULTS_SIGNING_KEY": "local-payment-results-key",
                                   "ORDER_MESSAGES_SIGNING_KEY": "local-order-messages-key",
                                   "FLOWER_PASSWORD": "glastonbury"}
    assert (env["SAGA_STUCK_AFTER"], env["PAYMENT_RESULT_TIMEOUT"]) == ("15", "30")


def test_a_secret_must_be_declared() -> None:
    with pytest.raises(KeyError):
        auth.secret("UNDECLARED_TOKEN")
