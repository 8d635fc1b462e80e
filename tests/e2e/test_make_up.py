"""`make up` as a newcomer runs it: the whole stack under its supervisor, the brief's order,
Ctrl-C."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from glastonbury.auth import LOCAL_DEFAULTS
from devtools.devstack.__main__ import ROOT
from tests.e2e.conftest import DAY_ONE
from tests.e2e.stack import isolated_environment, wait_for

pytestmark = pytest.mark.e2e
BRIEF_ORDER = {"customerId": "e081ad0f-f83e-4f81-b2d7-23655ac04b8a", "amount": 10.5,
               "items": [{"id": DAY_ONE, "name": "day-one", "amount": 200.00, "quantity": 1}]}


@pytest.fixture
def make_up(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, dict[str, str]]]:
    env = isolated_environment(tmp_path)
    log = open(tmp_path / "up.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "devtools.devstack", "up"], cwd=ROOT,
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    yield process, env
    if process.poll() is None:
        process.kill()
        process.wait()


def test_make_up_serves_the_briefs_order_and_ctrl_c_stops_every_part(
        make_up: tuple[subprocess.Popen, dict[str, str]]) -> None:
    process, env = make_up
    order_url = f"http://127.0.0.1:{env['ORDER_PORT']}"
    inventory_url = f"http://127.0.0.1:{env['INVENTORY_PORT']}"
    wait_for(lambda: _answers(f"{order_url}/healthz"), 90, "the order service")
    wait_for(lambda: _answers(f"{inventory_url}/healthz"), 90, "the inventory service")

    placed = requests.post(f"{order_url}/orders", json=BRIEF_ORDER, timeout=10)
    assert placed.status_code == 202
    order = wait_for(lambda: (o := requests.get(f"{order_url}/orders/{placed.json()['id']}",
                                                timeout=10).json())["status"] != "PENDING" and o,
                     60, "the brief's order to finish")
    assert order["status"] == "COMPLETED"

    ticket = str(uuid.uuid4())
    # The documented local admin token of .env.example, which `make up` runs with.
    admin = {"Authorization": f"Bearer {LOCAL_DEFAULTS['ADMIN_TOKEN']}"}
    created = requests.post(f"{inventory_url}/tickets", headers=admin, timeout=10, json={
        "id": ticket, "name": "late-night", "available": 2, "price": 50.0})
    assert created.status_code == 201, created.text
    too_many = dict(BRIEF_ORDER, items=[{"id": ticket, "name": "late-night", "amount": 50.0,
                                         "quantity": 3}])
    rejected_id = requests.post(f"{order_url}/orders", json=too_many, timeout=10).json()["id"]
    rejected = wait_for(lambda: (o := requests.get(f"{order_url}/orders/{rejected_id}",
                                                   timeout=10).json())["status"] != "PENDING" and o,
                        60, "the order for too many tickets to finish")
    assert rejected["status"] == "REJECTED"
    assert requests.get(f"{inventory_url}/tickets/{ticket}", timeout=10).json()["available"] == 2

    parts = psutil.Process(process.pid).children(recursive=True)
    assert len(parts) >= 11
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) in (0, 130, -signal.SIGINT, 1)
    gone, alive = psutil.wait_procs(parts, timeout=15)
    assert alive == [], f"orphans left running: {[p.pid for p in alive]}"


def test_make_up_says_which_port_is_taken_instead_of_a_traceback(tmp_path: Path) -> None:
    env = isolated_environment(tmp_path)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(env["ORDER_PORT"])))
        squatter.listen()
        result = subprocess.run([sys.executable, "-m", "devtools.devstack", "up"], cwd=ROOT,
                                env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"port {env['ORDER_PORT']} (ORDER_PORT) is already in use" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False
