"""Recovery after each fault of a chaos run, and what a customer saw meanwhile.

Each fault the run causes is a `Disruption`: its kind (`kill redis`, `blackhole`, ...), what it
hit, when it began and ended (seconds since the epoch, as the databases' timestamps are). An
order it touched is one placed before it ended and not yet ended when it began; the fault's
recovery is the time from its end until the last of those orders ended (0 if all ended while it
lasted; None if one never did). Faults follow each other closely, so one fault's recovery can
include the next one's: the figures are what a customer lived through, an upper bound on what
one fault alone costs.

`CustomerProbe` plays a customer while the run goes on: every half second it asks the order
service for a recent order with `?wait=` (the long-poll a client uses) and notes the answer, how
long it took and its `Retry-After`.
"""

from __future__ import annotations

import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.chaos.background import OnItsThread
from tests.chaos.verdict import TERMINAL

KILLED = re.compile(r"\d+$")   # worker2 is a worker
NO_FAULT = "no fault (outside every fault and its recovery)"


@dataclass(frozen=True)
class Disruption:
    kind: str     # `kill <part>` (worker2 counts as worker), or a network fault's name
    target: str   # the part killed, or the link the fault was on
    began: float
    ended: float


def kill_kind(victim: str) -> str:
    return f"kill {KILLED.sub('', victim)}"


@dataclass(frozen=True)
class Answer:
    sent: float        # epoch seconds
    took_s: float
    seen: str          # `200 PAYMENT_PENDING`, `503`, `no answer (ConnectTimeout)`, ...
    retry_after: str | None


@dataclass
class CustomerProbe(OnItsThread):
    """A customer asking about their order with `?wait=` every `every_s`, on a thread."""

    order_url: str
    latest_order: Callable[[], str | None]   # the order to ask about now, if any
    wait_s: float = 2.0
    every_s: float = 0.5
    answers: list[Answer] = field(default_factory=list)

    thread_name = "chaos-customer"

    def __post_init__(self) -> None:
        self._make_thread()

    def _run(self) -> None:
        while not self.stop_event.wait(self.every_s):
            order_id = self.latest_order()
            if order_id is not None:
                self.answers.append(self.ask(order_id))

    def ask(self, order_id: str) -> Answer:
        sent, began = time.time(), time.monotonic()
        try:
            response = requests.get(f"{self.order_url}/orders/{order_id}",
                                    params={"wait": self.wait_s}, timeout=self.wait_s + 8)
        except requests.RequestException as error:
            return Answer(sent, time.monotonic() - began, f"no answer ({type(error).__name__})",
                          None)
        seen = str(response.status_code)
        if response.status_code == 200:
            seen += " " + ("ended" if response.json().get("status") in TERMINAL
                           else "under way")
        return Answer(sent, time.monotonic() - began, seen, response.headers.get("Retry-After"))


def recovery_s(disruption: Disruption, orders: dict[str, dict[str, Any]]) -> tuple[float | None,
                                                                                   int]:
    """The fault's recovery (None: an order it touched never ended) and how many it touched."""
    touched = [order for order in orders.values()
               if order["created_at"] is not None and order["created_at"] <= disruption.ended
               and (order["status"] not in TERMINAL or order["updated_at"] >= disruption.began)]
    if any(order["status"] not in TERMINAL for order in touched):
        return None, len(touched)
    last_end = max((order["updated_at"] for order in touched), default=disruption.ended)
    return max(0.0, last_end - disruption.ended), len(touched)


def recovery_by_kind(disruptions: Iterable[Disruption], orders: dict[str, dict[str, Any]],
                     answers: list[Answer]) -> dict[str, dict[str, Any]]:
    """Per kind of fault: how often, recovery (median, max), orders touched, and the
    customer's answers from the fault's beginning until its recovery ended."""
    rows: dict[str, dict[str, Any]] = {}
    for disruption in disruptions:
        recovered, touched = recovery_s(disruption, orders)
        row = rows.setdefault(disruption.kind, {"faults": 0, "recovery_s": [], "touched": 0,
                                                "never_recovered": 0, "answers": []})
        row["faults"] += 1
        row["touched"] += touched
        if recovered is None:
            row["never_recovered"] += 1
        else:
            row["recovery_s"].append(recovered)
        until = disruption.ended + (recovered if recovered is not None else 0)
        row["answers"] += [a for a in answers if disruption.began <= a.sent <= until]
    disrupted = {id(answer) for row in rows.values() for answer in row["answers"]}
    calm = [answer for answer in answers if id(answer) not in disrupted]
    rows[NO_FAULT] = {"faults": 0, "recovery_s": [], "touched": 0, "never_recovered": 0,
                      "answers": calm}
    return {kind: summary(row) for kind, row in sorted(rows.items())}


def summary(row: dict[str, Any]) -> dict[str, Any]:
    times, answers = row["recovery_s"], row["answers"]
    took = [answer.took_s for answer in answers]
    return {
        "faults": row["faults"], "orders_touched": row["touched"],
        "never_recovered": row["never_recovered"],
        "recovery_s_median": round(statistics.median(times), 1) if times else None,
        "recovery_s_max": round(max(times), 1) if times else None,
        "customer_saw": dict(Counter(answer.seen for answer in answers).most_common()),
        "customer_wait_s_median": round(statistics.median(took), 2) if took else None,
        "customer_wait_s_max": round(max(took), 2) if took else None,
        "retry_after_seen": sorted({a.retry_after for a in answers if a.retry_after}),
    }


def markdown_table(by_kind: dict[str, dict[str, Any]]) -> str:
    """The README's table: one row a kind of fault."""
    lines = ["| Fault | Times | Orders touched | Recovery median / max (s) | "
             "The customer's `?wait=2` answers meanwhile | Answer took median / max (s) |",
             "|---|---:|---:|---:|---|---:|"]
    for kind, row in by_kind.items():
        saw = ", ".join(f"{seen} ×{count}" for seen, count in row["customer_saw"].items())
        never = f" ({row['never_recovered']} never)" if row["never_recovered"] else ""
        lines.append(f"| {kind} | {row['faults']} | {row['orders_touched']} | "
                     f"{row['recovery_s_median']} / {row['recovery_s_max']}{never} | "
                     f"{saw or '—'} | {row['customer_wait_s_median']} / "
                     f"{row['customer_wait_s_max']} |")
    return "\n".join(lines)
