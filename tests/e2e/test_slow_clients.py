"""Slow and idle clients cannot freeze intake: clients that send the headers of `POST /orders`
and then hold the body, against the order service itself and through the production proxy's
configuration (deploy/nginx/glastonbury.conf.template, run with Debian's nginx)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.e2e.conftest import DAY_ONE
from tests.e2e.proxy import INSTALL, Proxy, nginx
from tests.e2e.stack import Stack, wait_for
from devtools.devstack.binaries import free_port

pytestmark = pytest.mark.e2e

SLOW_CLIENTS = 24       # more than the order service's 20 threads
BODY_TIMEOUT_S = 2      # the proxy's, short for the test (production: 10 s, docker-compose.yml)
CONNECTIONS_PER_ADDRESS = 8
HEADERS = (b"POST /orders HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\n"
           b"Content-Length: 500\r\n\r\n")


def hold_a_body(port: int, source: str = "127.0.0.1") -> socket.socket:
    """A connection that sent the headers of an order, and holds its body."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=30,
                                          source_address=(source, 0))
    connection.sendall(HEADERS)
    return connection


def answers_healthz_within_a_second(base: str, source: str = "127.0.0.1") -> bool:
    session = requests.Session()
    session.mount("http://", SourceAddressAdapter(source))
    try:
        return session.get(f"{base}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


class SourceAddressAdapter(HTTPAdapter):
    """Requests from one loopback address of many (127.0.0.0/8): a client of its own to nginx."""

    def __init__(self, source: str):
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)   # type: ignore[arg-type]


def stays_healthy_while(base: str, until: float) -> None:
    """`/healthz` answers within a second, asked again and again until `until` (monotonic)."""
    while time.monotonic() < until:
        assert answers_healthz_within_a_second(base), "/healthz gave no answer within 1 s"
        time.sleep(0.2)


def closed_after(connection: socket.socket) -> tuple[float, bytes]:
    """Seconds until the other side closed the connection, and what it said before."""
    began, said = time.monotonic(), b""
    try:
        while chunk := connection.recv(4096):
            said += chunk
    except ConnectionResetError:
        pass
    return time.monotonic() - began, said


# --- the order service alone, as `make up` runs it -----------------------------------------------


def test_the_order_service_answers_healthz_while_slow_bodies_are_held(stack: Stack) -> None:
    port, timeout_s = int(stack.env["ORDER_PORT"]), float(stack.env["ORDER_BODY_READ_TIMEOUT"])
    held = [hold_a_body(port) for _ in range(SLOW_CLIENTS)]
    began = time.monotonic()
    try:
        stays_healthy_while(stack.url("order"), began + timeout_s - 0.5)
        for connection in held:
            waited, said = closed_after(connection)
            status, _, body = said.partition(b"\r\n\r\n")
            assert status.startswith(b"HTTP/1.1 408"), said
            assert json.loads(body)["error"] == "request_timeout"
        assert time.monotonic() - began < timeout_s + 3, "the slow bodies were not cut in time"
    finally:
        for connection in held:
            connection.close()


# --- through the production proxy ----------------------------------------------------------------


@pytest.fixture(scope="module")
def proxy(stack: Stack) -> Iterator[dict[str, str]]:
    executable = nginx()
    if executable is None:
        pytest.skip(f"nginx is not installed: {INSTALL} (as root; .ci/run does)")
    values = {"ORDER_LISTEN": str(free_port()), "DASHBOARD_LISTEN": str(free_port()),
              "ORDER_UPSTREAM": f"127.0.0.1:{stack.env['ORDER_PORT']}",
              "DASHBOARD_UPSTREAM": f"127.0.0.1:{stack.env['FLOWER_PORT']}",
              "CLIENT_HEADER_TIMEOUT": f"{BODY_TIMEOUT_S}s",
              "CLIENT_BODY_TIMEOUT": f"{BODY_TIMEOUT_S}s", "SEND_TIMEOUT": "5s",
              "KEEPALIVE_TIMEOUT": "5s", "CONNECTIONS_PER_ADDRESS": str(CONNECTIONS_PER_ADDRESS),
              "REQUESTS_PER_SECOND": "20", "REQUEST_BURST": "40"}
    running = Proxy(values)
    running.start(executable)
    try:
        yield {"order": f"http://127.0.0.1:{values['ORDER_LISTEN']}",
               "dashboard": f"http://127.0.0.1:{values['DASHBOARD_LISTEN']}",
               "log": str(running.prefix / "error.log")}
    finally:
        print(f"\nnginx's error log:\n{running.error_log()[-3000:]}")
        running.stop()


def test_through_the_proxy_slow_bodies_from_many_addresses_are_cut_and_orders_go_on(
        proxy: dict[str, str]) -> None:
    port = int(proxy["order"].rsplit(":", 1)[1])
    # One connection from each of 24 addresses: the limit per address does not stop a botnet.
    held = [hold_a_body(port, f"127.0.0.{10 + n}") for n in range(SLOW_CLIENTS)]
    began = time.monotonic()
    try:
        stays_healthy_while(proxy["order"], began + 1)
        order = requests.post(f"{proxy['order']}/orders", timeout=5, json={
            "customerId": "e081ad0f-f83e-4f81-b2d7-23655ac04b8a", "amount": 10.5,
            "items": [{"id": DAY_ONE, "name": "day-one", "amount": 200.0, "quantity": 1}]})
        assert order.status_code == 202, order.text
        ended = requests.get(f"{proxy['order']}/orders/{order.json()['id']}",
                             params={"wait": 10}, timeout=15).json()
        assert ended["status"] == "COMPLETED", ended
        for connection in held:
            # nginx closes on its time-out without an answer: the service never saw the request
            assert closed_after(connection)[1] == b""
        cut = time.monotonic() - began
        assert BODY_TIMEOUT_S - 0.5 < cut < BODY_TIMEOUT_S + 3, f"cut after {cut:.1f} s"
    finally:
        for connection in held:
            connection.close()


def test_through_the_proxy_one_address_holds_at_most_its_connections(
        proxy: dict[str, str]) -> None:
    port, greedy = int(proxy["order"].rsplit(":", 1)[1]), "127.0.0.40"
    held = [hold_a_body(port, greedy) for _ in range(CONNECTIONS_PER_ADDRESS)]
    try:
        session = requests.Session()
        session.mount("http://", SourceAddressAdapter(greedy))
        # (a list: a refused Response is falsy)
        (refused,) = wait_for(lambda: (r := session.get(f"{proxy['order']}/healthz", timeout=2))
                              .status_code == 429 and [r], 5,
                              "the address's next request refused", interval_s=0.05)
        assert refused.json() == {"error": "too_many_requests", "details": [],
                                  "message": refused.json()["message"]}
        assert refused.headers["Retry-After"] == "1"
        assert 'limiting connections by zone "connections_per_address"' in open(
            proxy["log"]).read()
        assert answers_healthz_within_a_second(proxy["order"]), "another address is refused"
    finally:
        for connection in held:
            connection.close()


def test_through_the_proxy_a_body_over_64_kib_is_refused_in_json_and_64_kib_passes(
        proxy: dict[str, str]) -> None:
    def post(size: int) -> requests.Response:
        padding = "x" * (size - len('{"pad": ""}'))
        return requests.post(f"{proxy['order']}/orders", data=f'{{"pad": "{padding}"}}',
                             headers={"Content-Type": "application/json"}, timeout=10)

    too_large = post(64 * 1024 + 1)
    assert too_large.status_code == 413 and too_large.headers["Content-Type"] == "application/json"
    assert too_large.json()["error"] == "request_entity_too_large"
    assert post(64 * 1024).json()["error"] == "validation_failed"   # the service's answer


def test_through_the_proxy_the_dashboard_answers_behind_its_login(proxy: dict[str, str],
                                                                   stack: Stack) -> None:
    password = stack.env.get("FLOWER_PASSWORD") or "glastonbury"
    healthcheck = f"{proxy['dashboard']}/healthcheck"
    assert wait_for(lambda: requests.get(healthcheck, auth=("techlead", password),
                                         timeout=5).status_code == 200, 30, "the dashboard")
    assert requests.get(healthcheck, timeout=5).status_code == 401
