"""The order service's copy of the catalogue's prices: bounded, short-lived, and never a
made-up id (the inventory's `GET /tickets` served by a small real HTTP server here)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from cachetools import TTLCache
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from order_service.adapters.catalogue import HttpCatalogue
from order_service.adapters.rate_limits import CountedLimits
from order_service.domain.model import Listing
from order_service.entrypoints.flask_app import create_app
from tests.conftest import SERVICE_TOKENS
from tests.unit.order_service.fakes import FakeSagaStarter

DAY_ONE = uuid.UUID("3852cb18-9c19-4326-ac77-a1a0264bd98c")


class Inventory:
    """The catalogue's public read: day-one at 200.00; how many times it was asked."""

    def __init__(self) -> None:
        self.asked = 0
        app = Flask(__name__)

        @app.get("/tickets")
        def tickets() -> Any:
            self.asked += 1
            return jsonify({"tickets": [{"id": str(DAY_ONE), "name": "day-one", "price": 200.0,
                                         "available": 1000}
                                        for ticket in request.args.getlist("id")
                                        if ticket == str(DAY_ONE)]})

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"


def prices(listings: dict[uuid.UUID, Listing] | None) -> dict[uuid.UUID, Decimal | None]:
    assert listings is not None
    return {ticket: listing.price for ticket, listing in listings.items()}


@pytest.fixture
def inventory() -> Iterator[Inventory]:
    served = Inventory()
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    yield served
    served.server.shutdown()
    thread.join(timeout=10)


def test_a_known_listing_is_kept_a_while_and_an_unknown_id_is_asked_again(
        inventory: Inventory) -> None:
    catalogue = HttpCatalogue(inventory.url)
    made_up = uuid.uuid4()
    assert prices(catalogue.listings([DAY_ONE, made_up])) == {DAY_ONE: Decimal("200.0")}
    assert prices(catalogue.listings([DAY_ONE])) == {DAY_ONE: Decimal("200.0")}
    assert inventory.asked == 1
    assert catalogue.listings([made_up]) == {}
    assert inventory.asked == 2 and list(catalogue.cache) == [DAY_ONE]


def test_the_kept_listings_are_bounded_and_expire(inventory: Inventory) -> None:
    assert HttpCatalogue(inventory.url).cache.maxsize == 1024
    clock = [0.0]
    catalogue = HttpCatalogue(inventory.url)
    catalogue.cache = TTLCache(1024, 2, timer=lambda: clock[0])
    catalogue.listings([DAY_ONE])
    clock[0] = 2.5
    assert len(catalogue.cache) == 0
    catalogue.listings([DAY_ONE])
    assert inventory.asked == 2


def test_100000_made_up_ticket_ids_leave_the_kept_listings_as_they_were(
        inventory: Inventory, tmp_path: Any) -> None:
    app = create_app(f"sqlite:///{tmp_path}/order.db", FakeSagaStarter(),
                     HttpCatalogue(inventory.url), SERVICE_TOKENS, CountedLimits("memory://", {}))
    client = app.test_client()
    catalogue = app.extensions["order_service"].catalogue
    for _ in range(100_000 // 50):   # 50 lines an order, the most one may have
        items = [{"id": str(uuid.uuid4()), "name": "bot", "amount": 1, "quantity": 1}
                 for _ in range(50)]
        answer = client.post("/orders", json={"customerId": str(uuid.uuid4()), "amount": 1,
                                              "items": items})
        assert answer.status_code == 422   # not the catalogue's tickets
    assert len(catalogue.cache) == 0
    app.extensions["order_service"].engine.dispose()
