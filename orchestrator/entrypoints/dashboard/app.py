"""The dashboard application: Flower's own Tornado application, our saga pages beside it.

Flower's pages, its API, `/metrics` and `/healthcheck` all sit behind the one login
(`login.guard_all`); the saga pages read the orchestrator's store, not Flower's memory.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from celery import Celery
from flower.app import Flower
from flower.urls import handlers as flower_handlers
from tornado import template
from tornado.web import url

from orchestrator.adapters import saga_metrics
from orchestrator.adapters.step_queue import CeleryDispatch
from orchestrator.bootstrap import bootstrap
from orchestrator.entrypoints.dashboard import pages
from orchestrator.entrypoints.dashboard.login import guard_all
from orchestrator.service_layer.parts import Parts

TEMPLATES = Path(__file__).parent / "templates"


NAVBAR = "navbar.html"


class DashboardTemplates(template.Loader):
    """Our templates first, then Flower's: ours extend its base.html, and every page's navbar is
    Flower's own with the Sagas tab after its main tabs (so a Flower upgrade's navbar comes as
    it is)."""

    def _create_template(self, name: str) -> template.Template:
        ours = TEMPLATES / name
        if ours.is_file():
            return template.Template(ours.read_bytes(), name=name, loader=self)
        if name == NAVBAR:
            flowers = (Path(self.root) / NAVBAR).read_text(encoding="utf-8")
            return template.Template(with_the_sagas_tab(flowers), name=name, loader=self)
        return super()._create_template(name)


def with_the_sagas_tab(flowers_navbar: str) -> str:
    """Flower's navbar with our tab (templates/sagas_tab.html) last in its first list, the main
    tabs; a navbar without a list is not Flower's as we know it: say so rather than hide a tab."""
    end_of_main_tabs = flowers_navbar.find("</ul>")
    if end_of_main_tabs < 0:
        raise ValueError("Flower's navbar.html has no list of tabs to add the Sagas tab to")
    tab = (TEMPLATES / "sagas_tab.html").read_text(encoding="utf-8")
    return flowers_navbar[:end_of_main_tabs] + tab + flowers_navbar[end_of_main_tabs:]


def saga_routes(parts: Parts) -> list[Any]:
    given = {"parts": parts}
    return [
        url(r"/sagas", pages.SagasPage, given, name="sagas"),
        url(r"/sagas/([A-Za-z0-9_.:-]{1,64})", pages.SagaPage, given, name="saga"),
        url(r"/sagas/([A-Za-z0-9_.:-]{1,64})/(retry|compensate)", pages.SagaAction, given,
            name="saga_action"),
    ]


# Flower's API can send, revoke or time out any task: that would step around the saga's safety
# rules (`celery -A orchestrator saga ...` and the saga pages are the ways to act on a saga).
WRITES_OF_FLOWERS_API = re.compile(
    r"^/api/task/(apply|async-apply|send-task|abort|timeout|rate-limit|revoke)/")


def flowers_pages_and_reads() -> list[Any]:
    """Flower's handlers without those that act on tasks (those paths answer 404)."""
    def pattern(rule: Any) -> str:
        return rule[0] if isinstance(rule, tuple) else rule.regex.pattern

    return [rule for rule in flower_handlers if not WRITES_OF_FLOWERS_API.match(pattern(rule))]


def make_dashboard(capp: Celery, options: Any, settings: dict[str, Any],
                   parts: Parts | None = None) -> Flower:
    """Flower with `options` as its command would build it, our pages added, all behind the login.

    `settings` are Flower's Tornado settings (`flower.urls.settings` after its command's
    `extract_settings()`); `options.basic_auth` holds the login. The saga pages read and act
    with `parts` (by default the orchestrator's, sending steps through `capp`).
    """
    if not options.basic_auth:
        raise ValueError("the dashboard needs a login (options.basic_auth)")
    parts = parts or bootstrap(dispatch=CeleryDispatch(capp))
    # Flower's /metrics renders this process's default registry: the saga metrics join it.
    saga_metrics.install(lambda: parts.engine)
    loader = DashboardTemplates(settings["template_path"])
    dashboard = Flower(capp=capp, options=options, **{**settings, "template_loader": loader})
    # Matched before Flower's own list (a host rule inserted ahead of the catch-all), so every
    # path goes through a guarded handler, including Flower's final "not found" handler.
    dashboard.add_handlers(r".*", guard_all([*saga_routes(parts), *flowers_pages_and_reads()]))
    return dashboard

