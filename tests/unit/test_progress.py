"""The progress of `make bench` and `make chaos` (bench/progress.py), on a clock the test moves."""

from __future__ import annotations

import io
import time

from rich.console import Console

from bench.progress import Phase, Progress
from tests.chaos.harness import still_moving
from tests.chaos.verdict import Snapshot


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_phase_gives_its_counts_its_pace_and_the_time_left_at_that_pace() -> None:
    clock = FakeClock()
    phase = Phase("orders acknowledged", 1000, clock)
    assert phase.line() == "orders acknowledged: 0/1,000 (0%), time left unknown"
    clock.now += 20
    phase.update(done=120, detail="placed 121, POSTs retried 3, parts killed 2")
    assert phase.rate() == 6.0 and phase.left() == 880 / 6
    assert phase.line() == ("orders acknowledged: 120/1,000 (12%), 6.0/s, 0:02:27 left; "
                            "placed 121, POSTs retried 3, parts killed 2")


def test_a_phase_without_a_total_says_how_long_it_has_run() -> None:
    clock = FakeClock()
    phase = Phase("starting the stack", None, clock)
    clock.now += 12
    assert phase.line() == "starting the stack: 0:00:12 so far"
    phase.ended = clock.now
    assert phase.summary() == "starting the stack: 0:00:12"


def test_off_a_terminal_a_plain_line_comes_every_few_seconds_then_the_phase_summary() -> None:
    clock, stream = FakeClock(), io.StringIO()
    progress = Progress(stream, every_s=5, clock=clock)
    assert not progress.live   # a StringIO is no terminal: no redraws in a log
    with progress.section("load 1/3"), progress.phase("sagas ended", total=400) as phase:
        clock.now += 4
        phase.update(done=100)
        progress.tick()
        assert stream.getvalue() == ""   # not yet due
        clock.now += 1
        progress.tick()
        progress.tick()   # one line an interval, however often it is asked
        clock.now += 3
        phase.update(done=400)
    assert stream.getvalue().splitlines() == [
        "load 1/3: sagas ended: 100/400 (25%), 20.0/s, 0:00:15 left",
        "load 1/3: sagas ended: 400/400 (100%) in 0:00:08"]


def test_phases_under_way_at_once_each_get_their_line() -> None:
    clock, stream = FakeClock(), io.StringIO()
    progress = Progress(stream, every_s=5, clock=clock)
    with progress.phase("chains sent", total=10) as sent, \
            progress.phase("chains ended", total=10) as ended:
        sent.advance(10)
        ended.advance(2)
        clock.now += 5
        progress.tick()
        lines = stream.getvalue().splitlines()
    assert lines == ["chains sent: 10/10 (100%), 2.0/s, 0:00:00 left",
                     "chains ended: 2/10 (20%), 0.4/s, 0:00:20 left"]


def test_on_a_terminal_a_bar_shows_the_counts_and_the_same_estimate() -> None:
    clock, stream = FakeClock(), io.StringIO()
    progress = Progress(console=Console(file=stream, force_terminal=True, width=120),
                        clock=clock)
    assert progress.live
    with progress, progress.phase("orders placed", total=100) as phase:
        clock.now += 10
        phase.update(done=25, detail="1 POST retried")
        deadline = time.monotonic() + 5
        while "25/100 (25%)" not in stream.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)   # the bars redraw four times a second
        drawn = stream.getvalue()
    assert "orders placed" in drawn and "25/100 (25%)" in drawn
    assert "0:00:30 left" in drawn and "1 POST retried" in drawn
    assert "orders placed: 25/100 (25%) in 0:00:10; 1 POST retried" in stream.getvalue()


def test_a_quiet_progress_writes_nothing_and_still_counts(capsys) -> None:
    progress = Progress.quiet()
    with progress, progress.phase("sagas ended", total=3) as phase:
        phase.advance(3)
        progress.tick()
    assert phase.done == 3 and capsys.readouterr() == ("", "")


def test_the_chaos_settling_detail_names_what_still_moves() -> None:
    snapshot = Snapshot(
        orders={"o1": {"status": "COMPLETED"}, "o2": {"status": "PENDING"},
                "o3": {"status": "PENDING"}},
        sagas={"o1": {"state": "COMPLETED", "payment_to_void": True},
               "o2": {"state": "AWAITING_PAYMENT", "payment_to_void": False}},
        reservations={"o1": "CONFIRMED", "o2": "HELD"}, lines={},
        payments={"o1": "APPROVED", "o2": "PENDING"}, available={})
    assert still_moving(snapshot) == ("not settled yet: sagas 3, payments pending 1, "
                                      "reservations held 1")
    settled = Snapshot(orders={}, sagas={}, reservations={}, lines={}, payments={},
                       available={})
    assert still_moving(settled) == ""
