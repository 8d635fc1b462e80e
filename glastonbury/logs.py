"""One order's trail through every process: each log line about an order names it.

A process says which order it is working on (`about_order`, or `set_order` where a framework
calls in and out, as Celery's task signals do); every line logged meanwhile carries
`order_id=<id>`, whoever logs it (our code, Flask, Celery, the HTTP client). `LOG_FORMAT=json`
writes one JSON object a line, with `order_id` as a field, for a log pipeline to index:

    grep 'order_id=3f2a…' var/*.log                          # the local stack (text)
    jq 'select(.order_id == "3f2a…")' worker.log bridge.log   # LOG_FORMAT=json

Each process calls `configure(<its name>)` once at start. The HTTP server's own lines (granian
starts before our code) follow `GRANIAN_LOG_CONFIG` = `GRANIAN_LOG_CONFIG_FILE`, which `make up`
and compose set.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from glastonbury import settings

_ORDER: ContextVar[str | None] = ContextVar("glastonbury_order_id", default=None)
FORMATS = settings.LOG_FORMATS
TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# granian's dictConfig for its own loggers: this module's formatter and order filter.
GRANIAN_LOG_CONFIG_FILE = Path(__file__).with_name("granian_logging.json")


def current_order() -> str | None:
    return _ORDER.get()


def set_order(order_id: object | None) -> None:
    """Name the order this thread works on from now (None: no order)."""
    _ORDER.set(None if order_id is None else str(order_id))


@contextmanager
def about_order(order_id: object | None) -> Iterator[None]:
    """Every line logged inside names the order."""
    token = _ORDER.set(None if order_id is None else str(order_id))
    try:
        yield
    finally:
        _ORDER.reset(token)


class OrderOfTheMoment(logging.Filter):
    """Gives each record the order its thread works on (unless the call named one itself,
    `log.info(..., extra={"order_id": ...})`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "order_id", None) is None:
            record.order_id = _ORDER.get()
        return True


class TextFormatter(logging.Formatter):
    """The usual line, ending in `order_id=<id>` when it is about an order and does not say so."""

    def __init__(self, fmt: str = TEXT):
        super().__init__(fmt)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        order_id = getattr(record, "order_id", None)
        if order_id and f"order_id={order_id}" not in line:
            line += f" order_id={order_id}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, process, logger, message, order_id, exception."""

    def __init__(self, process: str = ""):
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "process": self.process, "logger": record.name,
            "message": record.getMessage()}
        order_id = getattr(record, "order_id", None)
        if order_id:
            entry["order_id"] = order_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def log_format() -> str:
    value = settings.LOG_FORMAT.text().lower()
    if value not in FORMATS:
        raise ValueError(f"LOG_FORMAT is {value!r}: one of {', '.join(FORMATS)}")
    return value


def formatter(process: str) -> logging.Formatter:
    return JsonFormatter(process) if log_format() == "json" else TextFormatter()


def granian_formatter() -> logging.Formatter:
    """The formatter of granian's own lines (GRANIAN_LOG_CONFIG_FILE)."""
    return formatter("http-server")


def dress(handler: logging.Handler, process: str) -> None:
    """Make a handler someone else set up (Celery's, Flower's) write our lines."""
    handler.setFormatter(formatter(process))
    if not any(isinstance(f, OrderOfTheMoment) for f in handler.filters):
        handler.addFilter(OrderOfTheMoment())


def configure(process: str, level: int = logging.INFO) -> None:
    """The process's logging: one handler on stderr for the root logger, in LOG_FORMAT, each
    line naming its order; handlers that libraries put on their own loggers write the same."""
    root = logging.getLogger()
    handler = logging.StreamHandler()
    dress(handler, process)
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)   # a library's warning is a log line too, not loose text
    for logger in list(logging.root.manager.loggerDict.values()):
        for own in getattr(logger, "handlers", []):
            dress(own, process)
    misread = settings.misread_local_stack()
    if misread is not None:
        # Someone meant "not local" (0, false) or "local" (true, yes): either way, said at start.
        logging.getLogger(__name__).warning(
            "%s is %r, not 1: not the local stack, the documented local credentials are "
            "refused", settings.LOCAL_STACK.name, misread)
