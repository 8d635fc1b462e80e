"""`python -m bench.make_up` (the last part of `make bench`): the stack as `make up` runs it,
measured beside the bench's own stack, in turn, in one run.

`make up` runs every part under its supervisor (devtools.devstack.supervisor), which reads
every line each part logs and relays it to the terminal, prefixed and coloured; the bench's stack
(tests/e2e/stack.py) writes each part's log straight to a file. Everything else is the same:
the same parts, settings (the bench's), embedded servers and SQLite files, each stack in a
workdir of its own on free ports. Here `python -m devtools.devstack up` (what `make up` runs)
has its output read by this process, as a terminal would read it, and dropped.

    python -m bench.make_up [--orders 400 --clients 16] [--rounds 2]

Each round starts each stack in turn, warms it up (30 orders one at a time), runs `make bench`'s
load phase (`--orders` orders from `--clients` clients: sagas a second, and CPU a saga summed
over every process of the stack, the supervisor included) and stops it. Writes
bench/results/<timestamp>-make-up.json with every run, the medians and the ratios make up /
bench; the target (issue 22): make up within 10 % of the bench's stack.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench.driver import OrderDriver
from bench.progress import Progress
from bench.run import BENCH_SETTINGS, RESULTS, machine, with_cpu
from devtools.devstack.__main__ import ROOT
from glastonbury.topology import PARTS
from tests.chaos.verdict import database_urls
from tests.e2e.stack import FAST_SETTINGS, Stack, wait_for

WARM_UP_ORDERS = 30


class MakeUpStack(Stack):
    """`python -m devtools.devstack up` in a workdir of its own: one process (the supervisor) whose
    children are the parts; its output read and dropped, as a terminal would show it."""

    def __init__(self, workdir: Path, **overrides: str):
        super().__init__(workdir, **overrides)   # `environ`: what `make up` is started with
        self.servers = ()

    def start(self, *names: str) -> None:
        assert not names, "make up starts every part"
        self.supervisor = subprocess.Popen(
            [sys.executable, "-m", "devtools.devstack", "up"], cwd=ROOT, env=self.environ,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.lines_read = [0]
        threading.Thread(target=_read_and_drop, args=(self.supervisor.stdout, self.lines_read),
                         daemon=True).start()

    def supervisor_cpu_s(self) -> float:
        """CPU seconds `make up`'s own process used so far besides its parts, and any process
        of its own between it and them (honcho, before the supervisor, forked one for each part)."""
        root = psutil.Process(self.supervisor.pid)
        in_parts = {process.pid for part in self.processes.values()
                    for process in [part, *part.children(recursive=True)]}  # type: ignore[attr-defined]
        return sum(sum(process.cpu_times()[:2]) for process in
                   [root, *root.children(recursive=True)] if process.pid not in in_parts)

    def wait_until_ready(self, timeout_s: float = 90) -> None:
        """Every part healthy; then each of the supervisor's children known by its part's name (its
        command), so that each part's CPU is counted as the bench's stack counts it."""
        for name in self.parts:
            if name in PARTS and PARTS[name].health:
                wait_for(lambda part=name: self.healthy(part), timeout_s, f"{name} healthy")
        by_command = {command: name for name, command in self.parts.items()}
        for child in psutil.Process(self.supervisor.pid).children(recursive=True):
            name = by_command.get(" ".join(child.cmdline()[2:]))   # /bin/sh -c <command>
            if name is not None:
                self.processes[name] = child  # type: ignore[assignment]

    def stop(self) -> None:
        """The supervisor stops its parts on SIGTERM; any it left behind are killed."""
        parts = psutil.Process(self.supervisor.pid).children(recursive=True)
        self.processes = {"make up": self.supervisor}
        super().stop()
        for process in parts:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass


def _read_and_drop(stream: Any, lines: list[int]) -> None:
    for chunk in iter(lambda: stream.read(65536), b""):
        lines[0] += chunk.count(b"\n")


def measure(kind: str, options: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    """One stack of that kind started, warmed up, loaded once and stopped: the load's figures."""
    make = MakeUpStack if kind == "make up" else Stack
    with tempfile.TemporaryDirectory(prefix="glastonbury-make-up-") as workdir:
        stack = make(Path(workdir), **BENCH_SETTINGS)
        try:
            with progress.phase(f"starting {kind}"):
                stack.start()
                stack.wait_until_ready()
            driver = OrderDriver(stack.url("order"), stack.url("inventory"),
                                 database_urls(stack.env)["order"], stack.env["ADMIN_TOKEN"],
                                 progress)
            ticket = driver.new_ticket(available=10_000_000)
            driver.one_at_a_time(WARM_UP_ORDERS, ticket)
            relayed = _relayed(stack)
            figures = with_cpu(stack, options.orders, lambda: driver.load(
                options.orders, ticket, options.clients), settle_first=True)
            relayed = {key: round((value - relayed[key]) / options.orders, 6)
                       for key, value in _relayed(stack).items()}
        finally:
            stack.stop()
    supervisor_ms = round(relayed["cpu_s"] * 1000, 2) if relayed else 0.0
    return {"sagas_per_s": figures["sagas_per_s"],
            "cpu_ms_per_saga": round(figures["cpu_ms_per_unit_stack"] + supervisor_ms, 2),
            "cpu_ms_by_part": figures["cpu_ms_per_unit"], "statuses": figures["statuses"],
            **({"supervisor_cpu_ms_per_saga": supervisor_ms,
                "log_lines_per_saga": relayed["lines"]} if relayed else {})}


def _relayed(stack: Stack) -> dict[str, float]:
    """What the supervisor relayed so far: its CPU seconds and the lines (make up only)."""
    if not isinstance(stack, MakeUpStack):
        return {}
    return {"cpu_s": stack.supervisor_cpu_s(), "lines": float(stack.lines_read[0])}


def compare(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The medians of each kind's runs and make up's ratios to the bench's stack."""
    medians = {kind: {figure: round(statistics.median(run[figure] for run in kind_runs), 2)
                      for figure in ("sagas_per_s", "cpu_ms_per_saga")}
               for kind, kind_runs in runs.items()}
    bench, make_up = medians["bench"], medians["make up"]
    return {"medians": medians,
            "make_up_vs_bench": {
                "sagas_per_s": round(make_up["sagas_per_s"] / bench["sagas_per_s"], 3),
                "cpu_ms_per_saga": round(make_up["cpu_ms_per_saga"] / bench["cpu_ms_per_saga"],
                                         3)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=int(os.environ.get("BENCH_ORDERS", 400)))
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {"bench": [], "make up": []}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))   # the stacks' cleanup runs
    with Progress() as progress:
        for number in range(options.rounds):
            for kind in runs:
                with progress.section(f"round {number + 1}/{options.rounds}: {kind}"):
                    runs[kind].append(measure(kind, options, progress))
                print(f"{kind}: {json.dumps(runs[kind][-1])}", file=sys.stderr, flush=True)
    report = {"machine": machine(), "settings": {
        "orders": options.orders, "clients": options.clients, "rounds": options.rounds,
        **FAST_SETTINGS, **BENCH_SETTINGS}, "runs": runs, **compare(runs),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds")}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-make-up.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    print(f"\nwritten to {path.relative_to(ROOT)}")


def markdown(report: dict[str, Any]) -> str:
    rows = [f"| {kind} | {', '.join(str(run['sagas_per_s']) for run in runs)} | "
            f"{', '.join(str(run['cpu_ms_per_saga']) for run in runs)} |"
            for kind, runs in report["runs"].items()]
    ratio = report["make_up_vs_bench"]
    return "\n".join([
        "| stack | sagas/s, each run | CPU ms a saga, each run |", "|---|---|---|", *rows, "",
        f"make up / bench (medians): sagas/s {ratio['sagas_per_s']}×, "
        f"CPU a saga {ratio['cpu_ms_per_saga']}× (target: within 10 %)"])


if __name__ == "__main__":
    main()
