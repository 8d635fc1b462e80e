"""The saga pages: the flow with its figures, the list of sagas, one saga's timeline, actions.

They read the orchestrator's store (history survives restarts) and act only through
`orchestrator.service_layer.operations`, so the dashboard obeys the same safety rules as the
command line.
Store reads and actions block, so they run on Flower's thread pool, not on the event loop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from flower.views import BaseHandler
from kombu.exceptions import OperationalError
from tornado import web
from tornado.ioloop import IOLoop

from glastonbury import settings
from glastonbury.clock import utc_now as now
from orchestrator.adapters import saga_list, saga_views
from orchestrator.adapters.counters import ReconcilerPasses, reconciler_passes_so_far
from orchestrator.domain.flow import SAGA
from orchestrator.domain.model import SagaState
from orchestrator.domain.saga import Saga
from orchestrator.entrypoints.dashboard import diagram
from orchestrator.entrypoints.saga_text import duration
from orchestrator.service_layer import operations
from orchestrator.service_layer.parts import Parts

NOTICE_COOKIE = "saga_notice"
ACTIONS = {"retry": operations.retry, "compensate": operations.compensate}


@dataclass(frozen=True)
class Overview:
    """Everything the sagas page shows, read in one go."""

    drawing: diagram.Diagram
    figures: dict[str, saga_views.StepFigures]
    needs_counts: dict[str, int]
    sagas: list[saga_views.SagaLine]
    reconciler: ReconcilerPasses | None


def read_overview(parts: Parts, state: str | None, needs: str | None) -> Overview:
    engine = parts.engine
    stuck_after = timedelta(seconds=settings.SAGA_STUCK_AFTER.number())
    figures = saga_views.step_figures(engine, diagram.STEPS)
    drawing = diagram.draw(figures, saga_views.counts_by_state(engine))
    return Overview(drawing, figures, saga_views.needs_a_person_counts(engine, stuck_after),
                    saga_views.find_sagas(engine, stuck_after, state, needs),
                    reconciler_passes_so_far(engine))


def seconds(value: float | None) -> str:
    """A duration for people, as the command line writes it (850 ms, 4.2 s, 3m 20s, 2h 05m);
    an em dash when unknown."""
    return "—" if value is None else duration(value)


def moment(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


class SagaHandler(BaseHandler):
    """Flower's handler (its login, look and error pages) with helpers of the saga pages."""

    def initialize(self, parts: Parts) -> None:
        self.parts = parts

    async def blocking(self, function: Any, *args: Any) -> Any:
        return await IOLoop.current().run_in_executor(None, partial(function, *args))

    def render(self, template_name: str, **kwargs: Any) -> None:  # type: ignore[override]
        super().render(template_name, seconds=seconds, moment=moment, **kwargs)

    def choice(self, name: str, allowed: list[str]) -> str | None:
        """A query argument that must be one of `allowed`; absent or empty is None."""
        value = self.get_argument(name, None, escape=False)
        if value and value not in allowed:
            raise web.HTTPError(400, f"{name} must be one of {', '.join(allowed)}")
        return value or None


class SagasPage(SagaHandler):
    """GET /sagas?state=...&needs=stuck|retrying|failed|any — the flow and the sagas in it."""

    @web.authenticated
    async def get(self) -> None:
        state = self.choice("state", [s.value for s in SagaState])
        needs = self.choice("needs", [*saga_views.NEEDS_A_PERSON, "any"])
        overview = await self.blocking(read_overview, self.parts, state, needs)
        self.render("sagas.html", overview=overview, chosen_state=state, chosen_needs=needs,
                    states=[s.value for s in SagaState], reasons=saga_views.NEEDS_A_PERSON,
                    stuck_after=settings.SAGA_STUCK_AFTER.number(),
                    sample=saga_views.DURATION_SAMPLE,
                    reconcile_interval=settings.SAGA_RECONCILE_INTERVAL.number(), now=now())


class SagaPage(SagaHandler):
    """GET /sagas/<order id> — one saga's timeline, with the actions a person may take."""

    @web.authenticated
    async def get(self, order_id: str) -> None:
        saga: Saga | None = await self.blocking(saga_list.timeline, self.parts.engine, order_id)
        if saga is None:
            raise web.HTTPError(404, f"no saga for order {order_id}")
        self.render("saga.html", saga=saga, notice=self.take_notice(), now=now(),
                    step_failed=SAGA.step_failed)

    def take_notice(self) -> dict[str, str] | None:
        """The outcome of the last action, shown once."""
        value = self.get_secure_cookie(NOTICE_COOKIE, max_age_days=1)
        if value is None:
            return None
        self.clear_cookie(NOTICE_COOKIE)
        return json.loads(value)  # type: ignore[no-any-return]


class SagaAction(SagaHandler):
    """POST /sagas/<order id>/retry|compensate — with the page's anti-forgery token."""

    def check_xsrf_cookie(self) -> None:
        super().check_xsrf_cookie()  # Flower: no cross-site or cross-origin request
        # Flower skips the token when basic auth is on; a browser sends the login to any
        # site's form, so our actions want the token that only our own pages carry.
        web.RequestHandler.check_xsrf_cookie(self)

    @web.authenticated
    async def post(self, order_id: str, action: str) -> None:
        try:
            notice = {"kind": "done",
                      "text": await self.blocking(ACTIONS[action], self.parts, order_id)}
        except operations.Refused as refusal:
            notice = {"kind": "refused", "text": str(refusal)}
        except OperationalError as error:  # the broker is down; what was stored stays stored
            notice = {"kind": "refused", "text": f"the broker could not be reached ({error}); "
                      "the reconciler drives the saga on once it is back"}
        self.set_secure_cookie(NOTICE_COOKIE, json.dumps(notice), expires_days=None)
        self.redirect(self.reverse_url("saga", order_id))
