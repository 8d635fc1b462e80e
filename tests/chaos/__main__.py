"""`python -m tests.chaos` (`make chaos`): a chaos run of CHAOS_ORDERS orders (1,000) on a stack
of its own; prints the figures and writes them to bench/results/chaos-<timestamp>.json.
Its progress goes to stderr as it runs (`bench.progress`: bars on a terminal, a line every few
seconds elsewhere); stdout gets the report alone.

CHAOS_RATE (orders a second, 6), CHAOS_SEED (random), CHAOS_SETTLE_TIMEOUT (s, 300).
Exits 1 if the verdict found a problem.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.progress import Progress
from devtools.devstack.__main__ import ROOT
from tests.chaos.harness import CHAOS_SETTINGS, ChaosRun, chaos_stack


def main() -> int:
    orders = int(os.environ.get("CHAOS_ORDERS", "1000"))
    rate = float(os.environ.get("CHAOS_RATE", "6"))
    seed = int(os.environ.get("CHAOS_SEED", str(random.randrange(2**31))))
    settle_timeout = float(os.environ.get("CHAOS_SETTLE_TIMEOUT", "300"))
    workdir = Path(tempfile.mkdtemp(prefix="glastonbury-chaos-"))
    began = time.monotonic()
    with Progress() as progress:
        with progress.phase("starting the stack"):
            stack = chaos_stack(workdir)
        try:
            run = ChaosRun(stack, orders, seed=seed, rate_per_s=rate, threads=8,
                           settle_timeout_s=settle_timeout, progress=progress)
            verdict = run.run()
        finally:
            with progress.phase("stopping the stack"):
                stack.stop()
    report = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "seed": seed,
              "rate_per_s": rate, "settings": CHAOS_SETTINGS, "ok": verdict.ok,
              "problems": verdict.problems[:200], "problem_count": len(verdict.problems),
              **verdict.figures, "wall_clock_s": round(time.monotonic() - began, 1),
              "logs": str(stack.logs)}
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"chaos-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"report written to {path}")
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
