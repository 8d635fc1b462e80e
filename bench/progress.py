"""Progress of the long runs (`make bench`, `make chaos`): counts and the time left, on stderr.

    with Progress() as progress:
        with progress.phase("orders acknowledged", total=1000) as phase:
            ...
            phase.advance()                   # from any thread
            phase.update(done, detail="3 retries")

On a terminal, a bar a phase under way (rich), redrawn in place; anywhere else (CI, a pipe, a
file) a plain line a phase every `every_s` seconds, since redraws would fill a log with
control codes. Either way a finished phase leaves one line: its count and how long it took.
The time left is the phase's own average pace so far applied to what remains (`Phase.left`),
the same figure in both forms. Nothing here writes to stdout: the results the runs print
there (the bench's table, the chaos report) stay as they were.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, ProgressColumn, TextColumn
from rich.progress import Progress as Bars
from rich.text import Text

Clock = Callable[[], float]


def clock_text(seconds: float) -> str:
    """`0:02:26`, as rich writes its times."""
    return str(timedelta(seconds=round(seconds)))


class Phase:
    """One long step of a run: how much of its total is done, at what pace, how long is left."""

    def __init__(self, name: str, total: int | None, clock: Clock,
                 on_change: Callable[[Phase], None] | None = None) -> None:
        self.name, self.total, self.clock = name, total, clock
        self.done, self.detail = 0, ""
        self.started = clock()
        self.ended: float | None = None
        self.on_change = on_change
        self._lock = threading.Lock()

    def advance(self, count: int = 1) -> None:
        with self._lock:
            self.done += count
        if self.on_change:
            self.on_change(self)

    def update(self, done: int | None = None, detail: str | None = None,
               total: int | None = None) -> None:
        with self._lock:
            if done is not None:
                self.done = done
            if detail is not None:
                self.detail = detail
            if total is not None:
                self.total = total
        if self.on_change:
            self.on_change(self)

    def elapsed(self) -> float:
        return (self.ended if self.ended is not None else self.clock()) - self.started

    def rate(self) -> float | None:
        """Done a second so far; None before anything is done."""
        elapsed = self.elapsed()
        return self.done / elapsed if self.done and elapsed > 0 else None

    def left(self) -> float | None:
        """Seconds until the total at the pace so far; None without a total or a pace yet."""
        rate = self.rate()
        if self.total is None or rate is None:
            return None
        return max(self.total - self.done, 0) / rate

    def counts(self) -> str:
        """`120/1,000 (12%)`; a phase without a total, its count if any (`""`: none)."""
        if self.total is None:
            return f"{self.done:,}" if self.done else ""
        share = f" ({self.done / self.total:.0%})" if self.total else ""
        return f"{self.done:,}/{self.total:,}{share}"

    def left_text(self) -> str:
        left = self.left()
        return "time left unknown" if left is None else f"{clock_text(left)} left"

    def line(self) -> str:
        """The phase under way: `orders acknowledged: 120/1,000 (12%), 6.0/s, 0:02:26 left`."""
        rate = self.rate()
        parts = [self.counts(), *([f"{rate:.1f}/s"] if rate else []),
                 self.left_text() if self.total is not None
                 else f"{clock_text(self.elapsed())} so far"]
        return self._with_detail(f"{self.name}: {', '.join(part for part in parts if part)}")

    def summary(self) -> str:
        """The phase once ended: `orders acknowledged: 1,000/1,000 (100%) in 0:02:47`."""
        counts = self.counts()
        return self._with_detail(f"{self.name}: {counts + ' in ' if counts else ''}"
                                 f"{clock_text(self.elapsed())}")

    def _with_detail(self, line: str) -> str:
        return f"{line}; {self.detail}" if self.detail else line


class _Counts(ProgressColumn):
    """The bar's counts, as the plain lines write them."""

    def render(self, task: Any) -> Text:
        return Text(task.fields["phase"].counts(), style="progress.download")


class _Left(ProgressColumn):
    """The bar's time left: the phase's own estimate, as the plain lines give it."""

    def render(self, task: Any) -> Text:
        phase: Phase = task.fields["phase"]
        if phase.total is None:
            return Text(clock_text(phase.elapsed()), style="progress.elapsed")
        return Text(phase.left_text(), style="progress.remaining")


class Progress:
    """The phases of one run, shown as bars on a terminal and as plain lines elsewhere.

    `live` None asks the stream (stderr unless given, or the console's) whether it is an
    interactive terminal. Used as a context manager: the bars' redraws, or the plain lines'
    ticker, run inside it.
    """

    def __init__(self, stream: TextIO | None = None, live: bool | None = None,
                 every_s: float = 5.0, clock: Clock = time.monotonic,
                 silent: bool = False, console: Console | None = None) -> None:
        self.console = console or Console(file=stream or sys.stderr, highlight=False)
        self.stream = self.console.file
        self.live = self.console.is_interactive if live is None else live
        self.every_s, self.clock, self.silent = every_s, clock, silent
        self.phases: list[Phase] = []
        self.prefix = ""
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._ticker: threading.Thread | None = None
        self._next_line: dict[int, float] = {}
        self._bars = Bars(TextColumn("{task.description}"), BarColumn(), _Counts(),
                          _Left(), TextColumn("{task.fields[detail]}"), console=self.console,
                          get_time=clock, refresh_per_second=4)

    @classmethod
    def quiet(cls) -> Progress:
        """One that shows nothing: for the bench's and the harness's parts used on their own."""
        return cls(silent=True)

    def __enter__(self) -> Progress:
        if self.silent:
            return self
        if self.live:
            self._bars.start()
        else:
            self._ticker = threading.Thread(target=self._tick_until_stopped,
                                            name="progress-lines", daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stopped.set()
        if self._ticker is not None:
            self._ticker.join()
        if self.live and not self.silent:
            self._bars.stop()

    @contextmanager
    def section(self, name: str) -> Iterator[None]:
        """Name the phases opened within after the part of the run they belong to."""
        before, self.prefix = self.prefix, f"{name}: "
        try:
            yield
        finally:
            self.prefix = before

    @contextmanager
    def phase(self, name: str, total: int | None = None) -> Iterator[Phase]:
        """A phase under way for the block's duration; its summary line once the block ends."""
        phase = Phase(self.prefix + name, total, self.clock)
        task = None
        with self._lock:
            self.phases.append(phase)
            self._next_line[id(phase)] = phase.started + self.every_s
        if self.live and not self.silent:
            task = self._bars.add_task(phase.name, total=total, phase=phase, detail="")
            # rich's update takes its own lock: any thread may move the bar
            phase.on_change = lambda changed: self._bars.update(
                task, completed=changed.done, total=changed.total, detail=changed.detail)
        try:
            yield phase
        finally:
            phase.ended = self.clock()
            with self._lock:
                self.phases.remove(phase)
                self._next_line.pop(id(phase), None)
            if task is not None:
                self._bars.remove_task(task)
                self._bars.refresh()   # gone now, not at the next redraw (or never, at the end)
            self._say(phase.summary())

    def tick(self) -> None:
        """Plain lines: one for each phase under way whose last line is `every_s` old."""
        if self.silent or self.live:
            return
        moment = self.clock()
        with self._lock:
            due = [phase for phase in self.phases if moment >= self._next_line[id(phase)]]
            for phase in due:
                self._next_line[id(phase)] = moment + self.every_s
        for phase in due:
            self._say(phase.line())

    def _say(self, line: str) -> None:
        """A line above the bars, or on its own; never wrapped, never read as markup."""
        if self.silent:
            return
        if self.live:
            self.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            self.stream.write(line + "\n")
            self.stream.flush()

    def _tick_until_stopped(self) -> None:
        while not self._stopped.wait(min(1.0, self.every_s)):
            self.tick()
