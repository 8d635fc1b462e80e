"""schemathesis' own command line with every check, against each service as `make up` runs it.

The services run on a stack of their own: the fuzzer changes the catalogue's prices and limits
and records orders' outcomes, which the other end-to-end tests must not meet. The sagas run
(a worker, the relay, the bridge), so that an order the fuzzer placed ends and a `?wait=` on it
is answered soon; beat and the dashboard do not. The command reads the project's
`schemathesis.toml` (each caller's token, and what the documents cannot say), as a developer's
run from the repository does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.devstack.__main__ import ROOT
from tests.e2e.stack import Stack

pytestmark = pytest.mark.e2e

# A bounded run: at most this many cases an operation and phase, from a fixed seed (a failure
# is one a rerun meets again; `st replay <id>` from the repository shows it).
EXAMPLES_PER_OPERATION = 20
SEED = "20261203"
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("fuzzed"))
    stack.start("redis", "kafka", "order", "inventory", "payment", "payment_relay", "worker",
                "bridge")
    try:
        stack.wait_until_ready()
        yield stack
    finally:
        stack.stop()


@pytest.mark.parametrize("service", ["order", "inventory", "payment"])
def test_schemathesis_command_line_with_every_check_passes_on_the_service(
        services: Stack, service: str) -> None:
    tokens = {name: services.env[name] for name in ("ORCHESTRATOR_TOKEN", "ADMIN_TOKEN")}
    run = subprocess.run(
        [str(SCHEMATHESIS), "run", f"{services.url(service)}/openapi.json", "--checks", "all",
         "--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", SEED, "--no-color"],
        cwd=ROOT, env={**os.environ, **tokens}, capture_output=True, text=True, timeout=600)
    failures = run.stdout.find("=== FAILURES")
    assert run.returncode == 0, run.stdout[failures if failures >= 0 else -3000:] + run.stderr
    # "Selected: 8/8" then "Tested: 8": every operation of the document was tried.
    lines = run.stdout.splitlines()
    selected = [line.split()[-1].partition("/")[2] for line in lines if "Selected:" in line]
    tested = [line.split()[-1] for line in lines if "Tested:" in line]
    assert tested and tested == selected[-1:], run.stdout[-3000:]
