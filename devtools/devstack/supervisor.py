"""The parts of `make up` in one terminal: each part's output relayed under its name, and
Ctrl-C (or any part stopping) stops them all.

One process and one loop do it: a selector over the parts' pipes; whatever a part wrote is read
at once (up to 64 KiB), its complete lines prefixed with the time and the part's name and
written with one write. honcho did this before: a Python process forked for each part read its
lines one by one and sent each through a multiprocessing queue to the process that printed it,
0.3 ms of CPU a line, ~10 lines a saga, and every part was 10-20 % slower beside it
(bench/README.md, `bench.make_up`).

Each part runs in a session of its own, so a Ctrl-C in the terminal reaches this process only,
which stops the parts in order: SIGTERM to each part's process group, SIGKILL to what is left
after KILL_WAIT_S.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

# How long a part has to stop after SIGTERM before it is killed (honcho's too).
KILL_WAIT_S = 5.0
READ_SIZE = 65536
# How long a part's line can be before it is relayed without its end.
LONGEST_LINE = 65536
SYSTEM = "system"
# The exit status a shell gives for a signal, for the signal the stack was stopped by.
STOPPED_BY = {signal.SIGINT: 130, signal.SIGTERM: 143}
_COLOURS = ("36", "33", "32", "35", "31", "34", "36;1", "33;1", "32;1", "35;1", "31;1", "34;1")


@dataclass
class Part:
    name: str
    process: subprocess.Popen[bytes]
    prefix_colour: str
    unfinished_line: bytes = b""
    reported_stop: bool = False


class Supervisor:
    """Starts the parts (`start`), then relays their output to `output_fd` until they have all
    stopped (`run`, which returns the exit status the stack ends with)."""

    def __init__(self, output_fd: int, colour: bool | None = None,
                 names: Iterable[str] = ()) -> None:
        self.output_fd = output_fd
        self.colour = os.isatty(output_fd) if colour is None else colour
        self.parts: dict[str, Part] = {}
        self.returncode: int | None = None
        self.stop_deadline: float | None = None
        self.killed = False
        self.signalled: signal.Signals | None = None
        self.selector = selectors.DefaultSelector()
        self._colours = _cycle(_COLOURS)
        # Every prefix as wide as the longest name, from the first line on (`names`: the
        # parts that will be started).
        self._width = max([len(SYSTEM), *map(len, names)])
        self._output_open = True

    def start(self, name: str, command: str, env: dict[str, str], cwd: str) -> None:
        process = subprocess.Popen(command, shell=True, env=env, cwd=cwd,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        assert process.stdout is not None
        os.set_blocking(process.stdout.fileno(), False)
        part = Part(name, process, next(self._colours))
        self.parts[name] = part
        self._width = max(self._width, len(name))
        self.selector.register(process.stdout, selectors.EVENT_READ, part)
        self.say(f"{name} started (pid={process.pid})")

    def run(self) -> int:
        previous = {signum: signal.signal(signum, self._on_signal) for signum in STOPPED_BY}
        try:
            while self.selector.get_map() or self._running():
                for key, _ in self.selector.select(timeout=0.2):
                    self._relay(key.data, key.fileobj)
                self._notice_stopped_parts()
                if self.signalled is not None:
                    self.stop(f"{self.signalled.name} received")
                if self.stop_deadline is not None and time.monotonic() > self.stop_deadline:
                    self._kill_the_rest()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        self._notice_stopped_parts()
        return self.returncode or 0

    def stop(self, reason: str | None = None) -> None:
        """SIGTERM to every part still running; SIGKILL after KILL_WAIT_S."""
        if self.stop_deadline is not None:
            return
        if reason:
            self.say(reason)
        self.stop_deadline = time.monotonic() + KILL_WAIT_S
        for part in self.parts.values():
            if part.process.poll() is None:
                self.say(f"sending SIGTERM to {part.name} (pid {part.process.pid})")
                _signal_group(part, signal.SIGTERM)

    def say(self, text: str) -> None:
        self._write(self._prefixed(SYSTEM, "", [text.encode()]))

    def _on_signal(self, signum: int, _: Any) -> None:
        # Only noted here: the loop stops the parts (a write from inside the handler could
        # land in the middle of one the loop was making). A second Ctrl-C waits no longer.
        if self.signalled is not None and self.stop_deadline is not None:
            self.stop_deadline = 0.0
        self.signalled = signal.Signals(signum)
        if self.returncode is None:
            self.returncode = STOPPED_BY[self.signalled]

    def _relay(self, part: Part, pipe: Any) -> None:
        try:
            chunk = os.read(pipe.fileno(), READ_SIZE)
        except BlockingIOError:
            return
        if not chunk:   # the part (and whatever it started) closed its output
            self.selector.unregister(pipe)
            pipe.close()
            lines = [part.unfinished_line] if part.unfinished_line else []
            part.unfinished_line = b""
        else:
            text = part.unfinished_line + chunk
            complete, _, part.unfinished_line = text.rpartition(b"\n")
            if len(part.unfinished_line) > LONGEST_LINE:
                complete, part.unfinished_line = text, b""
            lines = complete.split(b"\n") if complete else []
        if lines:
            self._write(self._prefixed(part.name, part.prefix_colour, lines))

    def _prefixed(self, name: str, colour: str, lines: list[bytes]) -> bytes:
        prefix = f"{time.strftime('%H:%M:%S')} {name.ljust(self._width)} | "
        if self.colour and colour:
            prefix = f"\033[0m\033[{colour}m{prefix}\033[0m"
        head = prefix.encode()
        return b"".join(head + line.rstrip(b"\r") + b"\n" for line in lines)

    def _write(self, data: bytes) -> None:
        # A terminal that went away (the pipe to `| head` closed) stops the relaying, not the
        # stack: Ctrl-C or SIGTERM still stop it.
        while data and self._output_open:
            try:
                written = os.write(self.output_fd, data)
            except BlockingIOError:
                time.sleep(0.01)
                continue
            except BrokenPipeError:
                self._output_open = False
                return
            data = data[written:]

    def _notice_stopped_parts(self) -> None:
        for part in self.parts.values():
            if part.reported_stop or part.process.poll() is None:
                continue
            part.reported_stop = True
            self.say(f"{part.name} stopped (rc={part.process.returncode})")
            if self.returncode is None:
                self.returncode = part.process.returncode
            self.stop()

    def _running(self) -> bool:
        return any(part.process.poll() is None for part in self.parts.values())

    def _kill_the_rest(self) -> None:
        if self.killed:
            return
        self.killed = True
        for part in self.parts.values():
            if part.process.poll() is None:
                self.say(f"sending SIGKILL to {part.name} (pid {part.process.pid})")
            _signal_group(part, signal.SIGKILL)   # and whatever it started that outlived it
        # What a killed part's children left holding its pipe is not waited for.
        for key in list(self.selector.get_map().values()):
            self.selector.unregister(key.fileobj)
            key.fileobj.close()  # type: ignore[union-attr]


def _signal_group(part: Part, signum: signal.Signals) -> None:
    """The part's process group: the shell and what it started."""
    try:
        os.killpg(part.process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _cycle(items: tuple[str, ...]) -> Iterator[str]:
    while True:
        yield from items
