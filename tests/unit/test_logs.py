"""Each log line about an order names it; LOG_FORMAT=json writes one JSON object a line."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from flask import Flask

from glastonbury import logs
from glastonbury.web import install_order_trail
from orchestrator.entrypoints.celery_app import order_of

ORDER = "3852cb18-9c19-4326-ac77-a1a0264bd98c"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose lines go, dressed as `configure` dresses them, into a string."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger(f"test.logs.{id(stream)}")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def dressed(captured: tuple[logging.Logger, io.StringIO], monkeypatch: pytest.MonkeyPatch,
            fmt: str) -> tuple[logging.Logger, io.StringIO]:
    monkeypatch.setenv("LOG_FORMAT", fmt)
    logger, stream = captured
    logs.dress(logger.handlers[0], "worker")
    return logger, stream


Captured = tuple[logging.Logger, io.StringIO]


def test_a_text_line_about_an_order_ends_naming_it_once(
        captured: Captured, monkeypatch: pytest.MonkeyPatch) -> None:
    logger, stream = dressed(captured, monkeypatch, "text")
    logger.info("no order here")
    with logs.about_order(ORDER):
        logger.info("tickets held")
        logger.info("reserve_tickets order_id=%s: reserved", ORDER)
    lines = stream.getvalue().splitlines()
    assert "order_id" not in lines[0]
    assert lines[1].endswith(f"tickets held order_id={ORDER}")
    assert lines[2].count(f"order_id={ORDER}") == 1


def test_json_gives_one_object_a_line_with_the_order_and_the_exception(
        captured: Captured, monkeypatch: pytest.MonkeyPatch) -> None:
    logger, stream = dressed(captured, monkeypatch, "json")
    with logs.about_order(ORDER):
        try:
            raise RuntimeError("the database\nwent away")
        except RuntimeError:
            logger.exception("step failed:\n%s", "two lines")
    logger.info("payment result stored", extra={"order_id": "other-order"})
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["order_id"] == ORDER and first["level"] == "ERROR"
    assert first["process"] == "worker" and first["message"] == "step failed:\ntwo lines"
    assert "RuntimeError: the database" in first["exception"]
    assert second["order_id"] == "other-order" and "exception" not in second


def test_each_thread_names_its_own_order() -> None:
    seen: dict[str, str | None] = {}

    def work(order_id: str) -> None:
        with logs.about_order(order_id):
            threading.Event().wait(0.01)
            seen[order_id] = logs.current_order()

    threads = [threading.Thread(target=work, args=(f"order-{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {f"order-{n}": f"order-{n}" for n in range(8)}
    assert logs.current_order() is None


def test_configure_takes_over_the_root_and_the_libraries_handlers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "json")
    library = logging.getLogger("test.logs.library")
    own = logging.StreamHandler(io.StringIO())
    library.addHandler(own)
    root = logging.getLogger()
    before = root.handlers[:], root.level
    try:
        logs.configure("bridge")
        assert len(root.handlers) == 1
        assert isinstance(root.handlers[0].formatter, logs.JsonFormatter)
        assert isinstance(own.formatter, logs.JsonFormatter)
    finally:
        root.handlers[:], level = before
        root.setLevel(level)
        library.removeHandler(own)


def test_an_unknown_log_format_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="'xml'"):
        logs.formatter("order")


def test_a_task_names_the_order_of_its_message_or_of_the_failed_tasks() -> None:
    assert order_of(({"version": 1, "orderId": ORDER},)) == ORDER
    failed_request = SimpleNamespace(args=[{"version": 1, "orderId": ORDER}])
    assert order_of((failed_request, RuntimeError("x"), None)) == ORDER
    assert order_of(()) is None and order_of(None) is None
    assert order_of(({"orderId": ["not", "text"]},)) is None


def test_a_request_about_an_order_names_it_and_a_hostile_path_names_none() -> None:
    app = Flask(__name__)
    install_order_trail(app)
    seen: list[str | None] = []

    @app.get("/payments/<order_id>")
    def payment(order_id: str) -> str:
        seen.append(logs.current_order())
        return "ok"

    client = app.test_client()
    client.get(f"/payments/{ORDER}")
    client.get("/payments/x%0Aforged%20line")
    assert seen == [ORDER, None]
    assert logs.current_order() is None
