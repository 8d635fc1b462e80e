"""The chaos run's power cut (tests/chaos/power_loss.py) on a real Redis: what was written
after the lengths were noted is gone when Redis starts again, what came before is kept."""

from __future__ import annotations

import signal
from pathlib import Path

import redis

from devtools.devstack import binaries
from tests.chaos import power_loss
from tests.conftest import ServerProcess
from tests.e2e.stack import wait_for


def started(data_dir: Path, port: int) -> ServerProcess:
    return ServerProcess(binaries.redis_command(port, data_dir), port)


def test_a_power_cut_loses_the_writes_after_the_note_and_keeps_those_before(
        tmp_path: Path) -> None:
    port = binaries.free_port()
    server = started(tmp_path, port)
    client = redis.Redis(port=port)
    client.set("before", "kept")
    client.rpush("queue", "step one")
    client.execute_command("WAITAOF", 1, 0, 5000)   # on the disk: what a power cut keeps
    noted = power_loss.increments(tmp_path)
    assert noted and all(length > 0 for length in noted.values())

    client.set("after", "lost")          # acknowledged, not yet on the disk
    client.rpush("queue", "step two")
    # In the file once Redis has written it there (it may hold a write back while the last
    # second's fsync runs): so that the cut has something to cut.
    wait_for(lambda: sum(power_loss.increments(tmp_path).values()) > sum(noted.values()), 5,
             "the writes in the append-only file")
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    assert power_loss.cut_back(tmp_path, noted) > 0

    server = started(tmp_path, port)
    try:
        client = redis.Redis(port=port)
        assert client.get("before") == b"kept"
        assert client.get("after") is None
        assert client.lrange("queue", 0, -1) == [b"step one"]
    finally:
        server.stop()


def test_an_increment_begun_during_the_second_is_emptied(tmp_path: Path) -> None:
    port = binaries.free_port()
    server = started(tmp_path, port)
    client = redis.Redis(port=port)
    client.set("before", "kept")
    client.execute_command("WAITAOF", 1, 0, 5000)
    noted = power_loss.increments(tmp_path)
    client.bgrewriteaof()                # a rewrite: a new base, and a new increment after it
    wait_for(lambda: set(power_loss.increments(tmp_path)) != set(noted), 10, "the rewrite")
    rewritten = sum(power_loss.increments(tmp_path).values())
    client.set("after", "lost")
    wait_for(lambda: sum(power_loss.increments(tmp_path).values()) > rewritten, 5,
             "the write in the new increment")
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    power_loss.cut_back(tmp_path, noted)

    server = started(tmp_path, port)
    try:
        client = redis.Redis(port=port)
        assert client.get("before") == b"kept"   # in the rewrite's base
        assert client.get("after") is None
    finally:
        server.stop()
