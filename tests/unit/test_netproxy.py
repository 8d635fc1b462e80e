"""The chaos run's fault-injecting proxy (tests/chaos/netproxy.py) in front of an echo server."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.chaos.netproxy import BLACKHOLE, LATENCY, RESET, FaultyProxy


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A server that sends back every byte it gets, one thread a connection."""
    listener = socket.create_server(("127.0.0.1", 0))

    def echo(connection: socket.socket) -> None:
        with connection, contextlib.suppress(ConnectionError):   # the tests reset some
            while data := connection.recv(4096):
                connection.sendall(data)

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=echo, args=(connection,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()


@pytest.fixture
def proxy(echo_port: int) -> Iterator[FaultyProxy]:
    running = FaultyProxy(echo_port, latency_s=0.6).start()
    yield running
    running.stop()


def connect(proxy: FaultyProxy) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=5)


def round_trip(client: socket.socket, data: bytes = b"ping") -> tuple[bytes, float]:
    began = time.monotonic()
    client.sendall(data)
    return client.recv(4096), time.monotonic() - began


def test_without_a_fault_bytes_go_both_ways_at_once(proxy: FaultyProxy) -> None:
    with connect(proxy) as client:
        answer, took = round_trip(client)
    assert answer == b"ping"
    assert took < 0.5


def test_latency_holds_each_chunk_each_way(proxy: FaultyProxy) -> None:
    proxy.inject(LATENCY)
    with connect(proxy) as client:
        answer, took = round_trip(client)
    assert answer == b"ping"
    assert took >= 2 * 0.6   # there and back


def test_a_reset_resets_open_connections_and_new_ones_until_cleared(proxy: FaultyProxy) -> None:
    with connect(proxy) as client:
        assert round_trip(client)[0] == b"ping"
        proxy.inject(RESET)
        with pytest.raises(ConnectionResetError):
            round_trip(client)
            round_trip(client)   # the first send may leave before the reset arrives
    with pytest.raises(ConnectionResetError), connect(proxy) as refused:
        round_trip(refused)   # reset as it connects, or as it sends
    proxy.clear()
    with connect(proxy) as client:
        assert round_trip(client)[0] == b"ping"
    assert proxy.resets >= 2


def test_a_blackhole_passes_nothing_until_cleared_then_everything(proxy: FaultyProxy) -> None:
    with connect(proxy) as client:
        assert round_trip(client)[0] == b"ping"
        proxy.inject(BLACKHOLE)
        client.settimeout(0.5)
        client.sendall(b"held")
        with pytest.raises(TimeoutError):
            client.recv(4096)
        proxy.clear()
        client.settimeout(5)
        assert client.recv(4096) == b"held"


def test_a_target_that_is_down_looks_down_through_the_proxy() -> None:
    closed_port = socket.create_server(("127.0.0.1", 0))
    port = closed_port.getsockname()[1]
    closed_port.close()
    proxy = FaultyProxy(port).start()
    try:
        with pytest.raises(ConnectionResetError), connect(proxy) as client:
            round_trip(client)   # reset as it connects, or as it sends
    finally:
        proxy.stop()
