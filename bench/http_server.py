"""`python -m bench.http_server` — what the order service's HTTP server costs a request: its
CPU and latency answering `POST /orders` then `GET /orders/{id}` to 16 kept-alive clients,
served the topology's way (granian's RSGI interface through `glastonbury.gateway`) and the way
before it (granian's WSGI interface, 20 threads), in interleaved runs on one stack.

Only Redis, the inventory (the catalogue) and the order service run: no saga moves, so every
figure is the order service's alone (psutil, the whole process tree of the part). `--bare`
serves a WSGI app that answers `{}` instead of the order service: what the server alone costs.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from flask import Flask

from bench.floor import percentile
from glastonbury.topology import PARTS
from tests.e2e.stack import Stack, wait_for

DAY_ONE = "3852cb18-9c19-4326-ac77-a1a0264bd98c"
ORDER = json.dumps({"customerId": "e081ad0f-f83e-4f81-b2d7-23655ac04b8a", "amount": 200,
                    "items": [{"id": DAY_ONE, "name": "day-one", "amount": 200,
                               "quantity": 1}]})
WSGI = ("granian --interface wsgi --host 127.0.0.1 --port $ORDER_PORT --workers 1 "
        "--blocking-threads 20 --factory bench.http_server:wsgi_app")


def wsgi_app() -> Flask:
    """The order service as granian's WSGI interface ran it before the gateway."""
    from glastonbury.service_app import serving
    from order_service.entrypoints.flask_app import create_app

    return serving("order", create_app)


def bare_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """An app that costs next to nothing: what is left is the server's own cost."""
    environ["wsgi.input"].read()
    start_response("202 Accepted" if environ["REQUEST_METHOD"] == "POST" else "200 OK",
                   [("Content-Type", "application/json")])
    return [b'{"id": "x"}']


def bare_gateway() -> Any:
    from glastonbury.gateway import WsgiGateway

    return WsgiGateway(bare_wsgi, 20, 64 * 1024, 10.0)


BARE = {"wsgi": WSGI.replace("--factory bench.http_server:wsgi_app", "bench.http_server:bare_wsgi"),
        "rsgi": ("granian --interface rsgi --no-ws --host 127.0.0.1 --port $ORDER_PORT "
                 "--workers 1 --factory bench.http_server:bare_gateway")}


def client(port: int, pairs: int, latencies: list[float]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(pairs):
        began = time.perf_counter()
        connection.request("POST", "/orders", ORDER, {"Content-Type": "application/json"})
        response = connection.getresponse()
        order = json.loads(response.read())["id"]
        assert response.status == 202, order
        placed = time.perf_counter()
        connection.request("GET", f"/orders/{order}")
        response = connection.getresponse()
        response.read()
        assert response.status == 200
        latencies += [placed - began, time.perf_counter() - placed]
    connection.close()


def load(port: int, clients: int, pairs: int) -> list[float]:
    latencies: list[float] = []
    threads = [threading.Thread(target=client, args=(port, pairs, latencies))
               for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def tree_cpu(pid: int) -> float:
    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        times = process.cpu_times()
        total += times.user + times.system
    return total


def measure(stack: Stack, command: str, clients: int, pairs: int) -> dict[str, Any]:
    stack.parts["order"] = command
    stack.start("order")
    try:
        wait_for(lambda: stack.healthy("order"), 60, "the order service")
        port = int(stack.env["ORDER_PORT"])
        load(port, clients, 20)   # warm: connections, the catalogue's cache, the threads
        cpu = tree_cpu(stack.processes["order"].pid)
        began = time.perf_counter()
        latencies = load(port, clients, pairs)
        wall = time.perf_counter() - began
        cpu = tree_cpu(stack.processes["order"].pid) - cpu
        alone = sorted(load(port, 1, 100))   # one client: a request's own latency
    finally:
        stack.kill("order")
    latencies.sort()
    requests = len(latencies)
    return {"requests": requests, "cpu_ms_a_request": 1000 * cpu / requests,
            "requests_a_s": requests / wall, "mean_ms": 1000 * statistics.fmean(latencies),
            "p50_ms": 1000 * percentile(latencies, 50), "p99_ms": 1000 * percentile(latencies, 99),
            "alone_p50_ms": 1000 * percentile(alone, 50),
            "alone_p99_ms": 1000 * percentile(alone, 99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="pairs of runs, interleaved")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--pairs", type=int, default=150, help="orders each client places")
    parser.add_argument("--bare", action="store_true", help="an app that answers {} at once")
    options = parser.parse_args()
    commands = BARE if options.bare else {"wsgi": WSGI, "rsgi": PARTS["order"].command}
    stack = Stack(Path(tempfile.mkdtemp(prefix="bench-http-")))
    stack.start("redis", "inventory")
    results: dict[str, list[dict[str, Any]]] = {"wsgi": [], "rsgi": []}
    try:
        wait_for(lambda: stack.healthy("inventory"), 60, "the inventory")
        for _ in range(options.runs):
            for name, command in commands.items():
                results[name].append(measure(stack, command, options.clients, options.pairs))
                print(name, json.dumps({k: round(v, 3) for k, v in results[name][-1].items()}),
                      flush=True)
    finally:
        stack.stop()
    for name, runs in results.items():
        print(name, "medians:", json.dumps({key: round(statistics.median(r[key] for r in runs), 3)
                                            for key in runs[0]}))


if __name__ == "__main__":
    main()
