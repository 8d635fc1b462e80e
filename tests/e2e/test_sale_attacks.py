"""The sale under attack, against a real stack running with limits: bursts, a hoarding
customer, a client taking every wait, password guessing from many addresses, forged
forwarding headers, a mistyped local flag. Each client speaks from an address of its own on
the loopback range (127.0.0.x), as different machines would."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from devtools.devstack import binaries
from glastonbury.auth import LOCAL_DEFAULTS
from tests.e2e.conftest import HELD_CUSTOMER, Client
from tests.e2e.stack import Stack, wait_for
from tests.e2e.test_dashboard import dashboard_up, login as techlead

pytestmark = pytest.mark.e2e

LIMITS = {"ORDER_RATE_LIMIT_PER_ADDRESS": "5/minute", "ORDER_RATE_LIMIT_PER_CUSTOMER": "3/minute",
          "ORDER_WAITING_CLIENTS_PER_ADDRESS": "2",
          # The held customer's orders stay PENDING while the waits are tried.
          "PAYMENT_HOLD_CUSTOMERS": HELD_CUSTOMER, "PAYMENT_RESULT_TIMEOUT": "120"}


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own, with the sale's limits low enough to meet in a test."""
    stack = Stack(tmp_path_factory.mktemp("limited"), **LIMITS)
    stack.start()
    try:
        stack.wait_until_ready()
        yield stack
    finally:
        stack.stop()


class FromAddress(HTTPAdapter):
    """Connections from one loopback address: a client machine of its own."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client_at(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", FromAddress(address))
    return session


def order_from(stack: Stack, session: requests.Session, ticket: str,
               customer: str | None = None, **headers: str) -> requests.Response:
    body = {"customerId": customer or str(uuid.uuid4()), "amount": 10,
            "items": [{"id": ticket, "name": "e2e", "amount": 10.0, "quantity": 1}]}
    return session.post(f"{stack.url('order')}/orders", json=body, headers=headers, timeout=10)


def test_a_burst_from_one_address_is_refused_past_its_limit_while_anothers_order_completes(
        limited: Stack) -> None:
    client = Client(limited)
    ticket = client.new_ticket(100)
    bot = client_at("127.0.0.11")
    answers = [order_from(limited, bot, ticket) for _ in range(8)]
    assert [answer.status_code for answer in answers] == [202] * 5 + [429] * 3
    refused = answers[-1]
    assert refused.json()["error"] == "rate_limited"
    assert refused.json()["details"][0]["field"] == "(client address)"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    theirs = order_from(limited, client_at("127.0.0.12"), ticket)
    assert theirs.status_code == 202
    assert client.wait_until_terminal(theirs.json()["id"])["status"] == "COMPLETED"


def test_one_customer_past_its_limit_is_refused_from_any_address(limited: Stack) -> None:
    ticket = Client(limited).new_ticket(100)
    hoarder = str(uuid.uuid4())
    answers = [order_from(limited, client_at(f"127.0.0.{n}"), ticket, hoarder)
               for n in range(21, 25)]
    assert [answer.status_code for answer in answers] == [202, 202, 202, 429]
    assert answers[-1].json()["details"][0]["field"] == "customerId"
    assert "Retry-After" in answers[-1].headers


def test_forged_forwarding_headers_do_not_make_a_client_another(limited: Stack) -> None:
    ticket = Client(limited).new_ticket(100)
    bot = client_at("127.0.0.41")
    answers = [order_from(limited, bot, ticket, **{"X-Forwarded-For": f"203.0.113.{n}",
                                                   "X-Real-Ip": f"198.51.100.{n}"})
               for n in range(8)]
    assert [answer.status_code for answer in answers] == [202] * 5 + [429] * 3


def test_sixteen_waits_on_one_order_leave_other_customers_able_to_wait(limited: Stack) -> None:
    ticket = Client(limited).new_ticket(100)
    hog, someone = client_at("127.0.0.31"), client_at("127.0.0.32")
    held = order_from(limited, hog, ticket, HELD_CUSTOMER).json()["id"]
    theirs = order_from(limited, someone, ticket, HELD_CUSTOMER).json()["id"]

    def wait(session: requests.Session, order_id: str, wait_s: float) -> tuple[Any, float]:
        began = time.monotonic()
        answer = session.get(f"{limited.url('order')}/orders/{order_id}",
                             params={"wait": wait_s}, timeout=wait_s + 10)
        return answer, time.monotonic() - began

    with ThreadPoolExecutor(16) as pool:
        hogging = [pool.submit(wait, client_at("127.0.0.31"), held, 8) for _ in range(16)]
        # The sixteen hold one slot between them: each new one answers the one before at once.
        wait_for(lambda: sum(f.done() for f in hogging) >= 15, 5, "15 waits answered early")
        answer, waited = wait(someone, theirs, 2)
        assert answer.json()["status"] == "PENDING"
        assert "Retry-After" not in answer.headers and waited >= 2   # it was let wait
        answered_early = [f.result() for f in hogging if f.done()]
    assert sum("Retry-After" in a.headers for a, _ in answered_early) >= 15


def test_the_right_password_after_failures_from_its_address_waits_seconds_not_a_minute(
        limited: Stack) -> None:
    dashboard = f"{dashboard_up(limited)}/healthcheck"
    shared_proxy = client_at("127.0.0.51")
    for _ in range(6):
        assert shared_proxy.get(dashboard, auth=("techlead", "guess"), timeout=10).status_code \
            == 401
    refused = shared_proxy.get(dashboard, auth=techlead(limited), timeout=10)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) <= 2
    wait_for(lambda: shared_proxy.get(dashboard, auth=techlead(limited), timeout=10).ok, 5,
             "the tech lead let in")


def test_wrong_passwords_from_many_addresses_at_once_meet_the_accounts_backoff(
        limited: Stack) -> None:
    dashboard = f"{dashboard_up(limited)}/healthcheck"

    def guess(n: int) -> int:
        address = f"127.0.0.{60 + n % 7}"
        return client_at(address).get(dashboard, auth=("techlead", f"guess{n}"),
                                      timeout=10).status_code

    with ThreadPoolExecutor(7) as pool:
        answers = list(pool.map(guess, range(35)))
    # Each address stays within its own five free failures; the account's ten run out.
    assert answers.count(429) >= 10 and set(answers) == {401, 429}


def test_a_part_started_with_the_local_flag_0_refuses_the_documented_token(
        limited: Stack, tmp_path: Path) -> None:
    env = {**limited.env, "GLASTONBURY_LOCAL_STACK": "0", "ORDER_PORT": str(binaries.free_port()),
           "ADMIN_TOKEN": LOCAL_DEFAULTS["ADMIN_TOKEN"]}
    log = tmp_path / "order.log"
    with log.open("wb") as out:
        part = subprocess.Popen(limited.parts["order"], shell=True, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: part.poll() is not None, 30, "the order service to refuse to start")
    finally:
        if part.poll() is None:   # it took the token: end it (its group, granian's workers)
            os.killpg(part.pid, signal.SIGKILL)
            part.wait()
    text = log.read_text(errors="replace")
    assert "GLASTONBURY_LOCAL_STACK is '0', not 1" in text   # the warning at start
    assert "is the documented local default of .env.example (GLASTONBURY_LOCAL_STACK" in text
