"""What `celery -A orchestrator saga` prints, and the time expressions it reads.

Plain functions of a `Saga` and the moment "now", so the text is tested without a terminal.
All times are UTC. `--json` prints documents built here too (`list_document`, `saga_document`):
times in ISO 8601 with a `Z`, amounts as strings, as the services' messages carry them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from orchestrator.domain.saga import Saga, StepRecord

RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
REASON_WIDTH = 60


def parse_since(text: str, moment: datetime) -> datetime:
    """`10m`, `2h`, `1d` (before `moment`) or an ISO 8601 time (UTC unless it says otherwise)."""
    relative = RELATIVE.match(text)
    if relative:
        amount, unit = relative.groups()
        try:
            return moment - timedelta(**{UNITS[unit]: int(amount)})
        except OverflowError:  # older than datetime can count: since the beginning of time
            return datetime.min.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is neither a time like 2026-06-24T18:00:00Z nor an age "
                         "like 30s, 10m, 2h, 1d, 1w") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def duration(seconds: float) -> str:
    """A span for a person: `120 ms`, `4.2 s`, `3m 20s`, `2h 05m`, `3d 04h`."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h {whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d {whole % 86400 // 3600:02d}h"


def clock(moment: datetime | None) -> str:
    """A stored time as `2026-06-24 18:00:00.123` (UTC)."""
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def since(moment: datetime | None, now: datetime) -> str:
    return duration((now - moment).total_seconds()) if moment else "-"


def columns(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns, two spaces apart, the last one unpadded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(_line(row, widths) for row in rows)


def _line(row: Sequence[str], widths: list[int]) -> str:
    padded = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
    return "  ".join([*padded, row[-1]]).rstrip()


# -- saga list ---------------------------------------------------------------------------------

def state_label(saga: Saga) -> str:
    return f"{saga.state} (parked)" if saga.parked else str(saga.state)


def current_step(saga: Saga) -> StepRecord | None:
    """The step under way, else the one that ended last."""
    running = [step for step in saga.steps if step.ended_at is None]
    if running:
        return max(running, key=lambda step: step.started_at)
    return max(saga.steps, key=lambda step: step.ended_at or step.started_at, default=None)


def step_label(saga: Saga) -> str:
    step = current_step(saga)
    if step is None:
        return "-"
    return f"{step.name} ({step.outcome or 'running'})"


def shorten(text: str | None, width: int = REASON_WIDTH) -> str:
    if not text:
        return "-"
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def saga_table(sagas: Sequence[Saga], now: datetime) -> str:
    """One line per saga: order id, state, age, current or last step, reason."""
    header = ("ORDER ID", "STATE", "AGE", "STEP", "REASON")
    rows = [(saga.order_id, state_label(saga), since(saga.created_at, now), step_label(saga),
             shorten(saga.reason)) for saga in sagas]
    return columns([header, *rows])


def cut_note(shown: int) -> str:
    """What a list cut at `--limit` says after it (on stderr: stdout stays the table or JSON)."""
    return f"… {shown:,} of more shown (the newest); --limit to see more"


# -- saga show ---------------------------------------------------------------------------------

def saga_summary(saga: Saga, now: datetime) -> list[str]:
    """The saga's header: state, times, why it failed, what it waits for."""
    lines = [f"Order {saga.order_id}",
             f"  state     {state_label(saga)}"
             + (f" -> {saga.outcome}" if saga.outcome and saga.outcome != saga.state else ""),
             f"  customer  {saga.customer_id}, total {saga.total}",
             f"  created   {clock(saga.created_at)} ({since(saga.created_at, now)} ago)",
             f"  updated   {clock(saga.updated_at)} ({since(saga.updated_at, now)} ago)"]
    if saga.state == "AWAITING_PAYMENT" and saga.payment_deadline:
        lines.append(f"  payment   due by {clock(saga.payment_deadline)}"
                     f" ({_relative(saga.payment_deadline, now)})")
    if saga.reason:
        lines.append(f"  reason    {saga.reason}")
    if saga.payment_to_void:
        lines.append("  payment   to be cancelled or refunded")
    return lines


def step_row(step: StepRecord, now: datetime) -> tuple[str, ...]:
    ended = step.ended_at
    took = since(step.started_at, ended) if ended else f"{since(step.started_at, now)} so far"
    return (step.name, clock(step.started_at), took, str(step.attempts),
            step.outcome or "running", step.error or "")


def timeline(saga: Saga, now: datetime) -> str:
    """`saga show`: the summary, then every step in the order it started."""
    header = ("STEP", "STARTED (UTC)", "DURATION", "ATTEMPTS", "OUTCOME", "ERROR")
    steps = sorted(saga.steps, key=lambda step: step.started_at)
    body = columns([header, *(step_row(step, now) for step in steps)]) if steps else "no step yet"
    return "\n".join([*saga_summary(saga, now), "", body])


def _relative(moment: datetime, now: datetime) -> str:
    seconds = (moment - now).total_seconds()
    return f"in {duration(seconds)}" if seconds >= 0 else f"{duration(-seconds)} overdue"


# -- --json ------------------------------------------------------------------------------------

def iso(moment: datetime | None) -> str | None:
    """A stored time in ISO 8601, UTC, with a `Z`, as the order service writes its times."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def amount(value: Decimal | None) -> str | None:
    """An amount as the messages carry it: a string, so no float rounds it."""
    return None if value is None else str(value)


def step_document(step: StepRecord) -> dict[str, Any]:
    ended = step.ended_at
    return {"name": step.name, "startedAt": iso(step.started_at), "endedAt": iso(ended),
            # null while it runs: a duration "so far" would change with each read
            "seconds": (ended - step.started_at).total_seconds() if ended else None,
            "attempts": step.attempts, "outcome": step.outcome, "error": step.error,
            "taskId": step.task_id}


def saga_document(saga: Saga) -> dict[str, Any]:
    """`saga show --json`, and each saga of `saga list --json`: the saga and its timeline."""
    steps = sorted(saga.steps, key=lambda step: step.started_at)
    return {
        "orderId": saga.order_id, "state": str(saga.state),
        "outcome": str(saga.outcome) if saga.outcome else None, "parked": saga.parked,
        "reason": saga.reason, "customerId": saga.customer_id, "total": amount(saga.total),
        "lines": [{"ticketId": line.ticket_id, "quantity": line.quantity,
                   "unitPrice": amount(line.unit_price)} for line in saga.lines],
        "paymentRequested": saga.payment_requested,
        "paymentDeadline": iso(saga.payment_deadline), "paymentToVoid": saga.payment_to_void,
        "drives": saga.drives, "createdAt": iso(saga.created_at),
        "updatedAt": iso(saga.updated_at),
        "steps": [step_document(step) for step in steps]}


def list_document(sagas: Sequence[Saga], truncated: bool, limit: int) -> dict[str, Any]:
    """`saga list --json`: the sagas newest first, and whether more matched than `limit`."""
    return {"sagas": [saga_document(saga) for saga in sagas], "truncated": truncated,
            "limit": limit}
