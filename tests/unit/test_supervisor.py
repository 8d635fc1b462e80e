"""`make up`'s supervisor (devtools.devstack.supervisor) with real processes: shell lines."""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from devtools.devstack import supervisor as supervisor_module
from devtools.devstack.__main__ import env_file
from devtools.devstack.supervisor import Supervisor
from tests.e2e.stack import wait_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX")
ENV = {"PATH": os.environ["PATH"]}


def relayed(tmp_path: Path, parts: dict[str, str]) -> tuple[int, list[str], Supervisor]:
    out = tmp_path / "out"
    with open(out, "wb") as output:
        supervisor = Supervisor(output.fileno(), colour=False, names=parts)
        for name, command in parts.items():
            supervisor.start(name, command, env=ENV, cwd=str(tmp_path))
        returncode = supervisor.run()
    return returncode, out.read_text().splitlines(), supervisor


def test_every_line_is_relayed_whole_under_its_parts_name(tmp_path: Path) -> None:
    # A line written in pieces arrives as one; a blank line and a last line without its end
    # are relayed too.
    code, lines, _ = relayed(tmp_path, {
        "order": "printf 'placed '; sleep 0.2; printf 'order 1\\n\\nlast'",
        "inventory_service": "seq 1 3; sleep 1"})
    own = {name: [re.sub(r"^\d\d:\d\d:\d\d ", "", line) for line in lines
                  if re.match(rf"^\d\d:\d\d:\d\d {name} +\| ", line)]
           for name in ("order", "inventory_service")}
    assert own["order"] == ["order             | placed order 1", "order             | ",
                            "order             | last"]
    assert own["inventory_service"] == [f"inventory_service | {n}" for n in (1, 2, 3)]
    # Every line's text starts in the same column, the first system line's too.
    assert len({line.index("| ") for line in lines}) == 1, lines
    assert code == 0


def test_a_part_that_stops_stops_the_others_and_its_status_is_the_stacks(
        tmp_path: Path) -> None:
    started = time.monotonic()
    code, lines, supervisor = relayed(tmp_path, {"redis": "sleep 0.3; exit 3",
                                            "worker": "exec sleep 60"})
    assert code == 3
    assert time.monotonic() - started < 5
    assert any("redis stopped (rc=3)" in line for line in lines)
    assert any("sending SIGTERM to worker" in line for line in lines)
    assert all(part.process.poll() is not None for part in supervisor.parts.values())


def test_a_part_that_ignores_sigterm_is_killed_after_the_wait(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor_module, "KILL_WAIT_S", 0.5)
    code, lines, supervisor = relayed(tmp_path, {
        "bridge": "sleep 0.2",
        "stubborn": "trap '' TERM; echo ready; while true; do sleep 0.05; done"})
    assert code == 0
    assert any("sending SIGKILL to stubborn" in line for line in lines)
    assert supervisor.parts["stubborn"].process.returncode == -signal.SIGKILL


def test_ctrl_c_stops_every_part_and_what_they_started(tmp_path: Path) -> None:
    holder: list[Supervisor] = []

    def interrupt_when_started() -> None:
        # Once the supervisor's loop runs: its own handler has replaced pytest's.
        wait_for(lambda: holder and signal.getsignal(signal.SIGINT) == holder[0]._on_signal,
                 10, "the supervisor's loop")
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_when_started, daemon=True).start()
    out = tmp_path / "out"
    with open(out, "wb") as output:
        supervisor = Supervisor(output.fileno(), colour=False)
        holder.append(supervisor)
        # A shell that started a child of its own: the whole group is stopped.
        supervisor.start("flower", "sleep 60 & wait", env=ENV, cwd=str(tmp_path))
        supervisor.start("beat", "exec sleep 60", env=ENV, cwd=str(tmp_path))
        children = [child for part in supervisor.parts.values()
                    for child in psutil.Process(part.process.pid).children(recursive=True)]
        code = supervisor.run()
    assert code == 130
    assert "SIGINT received" in out.read_text()
    _, alive = psutil.wait_procs(children, timeout=5)
    assert alive == []


def test_a_closed_terminal_stops_the_relaying_not_the_stack(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    supervisor = Supervisor(write_end, colour=False)
    supervisor.start("payment", "echo one; sleep 0.2; echo two", env=ENV, cwd=str(tmp_path))
    previous = signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        assert supervisor.run() == 0
    finally:
        signal.signal(signal.SIGPIPE, previous)
        os.close(write_end)
    assert supervisor.parts["payment"].process.returncode == 0


def test_the_dotenv_file_is_read_as_people_write_it(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("# local overrides\n\nORDER_PORT=6000\nexport REDIS_URL = redis://x:1/0\n"
                      "ADMIN_TOKEN='with spaces'\nEMPTY=\nGREETING=\"hi\"\nnot a setting\n")
    assert env_file(dotenv) == {"ORDER_PORT": "6000", "REDIS_URL": "redis://x:1/0",
                                "ADMIN_TOKEN": "with spaces", "EMPTY": "", "GREETING": "hi"}
    assert env_file(tmp_path / "missing") == {}
