"""The dashboard application without the stack: Flower's app, our pages, one login for all."""

from __future__ import annotations

import re
import tempfile
from base64 import b64encode
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from celery import Celery
from flower.urls import settings as flower_settings
from tornado import template
from tornado.options import options
from tornado.testing import AsyncHTTPTestCase
from tornado.web import Application, RequestHandler

from orchestrator.bootstrap import bootstrap
from tests.unit.orchestrator.fakes import RecordingDispatch
from orchestrator.adapters import counters
from orchestrator.adapters.repository import connect
from orchestrator.entrypoints.dashboard.app import (DashboardTemplates, make_dashboard,
                                                    with_the_sagas_tab)
from orchestrator.entrypoints.dashboard.login import guard_all, has_login

LOGIN = "techlead:s3cret"


def basic(credentials: str) -> str:
    return "Basic " + b64encode(credentials.encode()).decode()


def test_only_the_exact_login_in_a_basic_header_is_accepted() -> None:
    assert has_login(basic(LOGIN), [LOGIN])
    assert not has_login(basic("techlead:wrong"), [LOGIN])
    assert not has_login(basic(LOGIN), [])
    assert not has_login(None, [LOGIN])
    assert not has_login("Bearer " + b64encode(LOGIN.encode()).decode(), [LOGIN])
    assert not has_login("Basic not-base64!", [LOGIN])


def navbar_parts(navbar: str) -> set[str]:
    """What a navbar links to and what Flower's scripts look up in it: its routes, addresses,
    element ids and the settings its template reads."""
    return (set(re.findall(r"reverse_url\('([^']+)'\)", navbar))
            | set(re.findall(r'href="(http[^"]+|#[^"]+)"', navbar))
            | {f"id={name}" for name in re.findall(r'\bid="([^"]+)"', navbar)}
            | set(re.findall(r"handler\.[\w.]+|current_user", navbar)))


def test_every_page_has_flowers_own_navbar_with_the_sagas_tab_after_its_main_tabs() -> None:
    flowers = (Path(flower_settings["template_path"]) / "navbar.html").read_text()
    loader = DashboardTemplates(flower_settings["template_path"])
    ours = with_the_sagas_tab(flowers)
    assert loader.load("navbar.html").code == template.Template(ours, name="navbar.html").code
    assert navbar_parts(ours) - navbar_parts(flowers) == {"sagas"}
    assert navbar_parts(flowers) <= navbar_parts(ours)
    main_tabs = ours[:ours.index("</ul>")]
    assert [tab for tab in re.findall(r"reverse_url\('([^']+)'\)", main_tabs)] == [
        "main", "workers", "tasks", "broker", "sagas"]


def test_a_navbar_without_a_list_of_tabs_is_refused_rather_than_shown_without_the_sagas_tab(
        ) -> None:
    with pytest.raises(ValueError, match="no list of tabs"):
        with_the_sagas_tab("<nav><a href='/'>Flower</a></nav>")


class Hello(RequestHandler):
    def get(self) -> None:
        self.write("hello")


class GuardedApp(AsyncHTTPTestCase):
    def get_app(self) -> Application:
        app = Application(guard_all([(r"/hello", Hello)]))
        app.options = SimpleNamespace(basic_auth=[LOGIN])  # type: ignore[attr-defined]
        return app

    def test_a_guarded_handler_answers_401_with_a_challenge_then_200_with_the_login(self) -> None:
        denied = self.fetch("/hello")
        assert denied.code == 401 and denied.headers["WWW-Authenticate"].startswith("Basic")
        assert self.fetch("/hello", headers={"Authorization": basic(LOGIN)}).body == b"hello"


class Dashboard(AsyncHTTPTestCase):
    """The whole application on a memory broker and a SQLite store."""

    def get_app(self) -> Application:
        engine = self.engine = connect(f"sqlite:///{self.tmp}/orchestrator.db")
        options.basic_auth = [LOGIN]
        return make_dashboard(Celery("test", broker="memory://"), options,
                              {**flower_settings, "debug": False},
                              bootstrap(RecordingDispatch(), engine))

    def setUp(self) -> None:
        self.folder = tempfile.TemporaryDirectory()
        self.tmp = self.folder.name
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        options.basic_auth = []
        self.folder.cleanup()

    def test_every_path_wants_the_login_metrics_and_healthcheck_included(self) -> None:
        for path in ("/", "/sagas", "/metrics", "/healthcheck", "/api/workers",
                     "/static/css/flower.css", "/no-such-page"):
            assert self.fetch(path).code == 401, path
        for path in ("/sagas", "/metrics", "/healthcheck"):
            assert self.fetch(path, headers={"Authorization": basic(LOGIN)}).code == 200, path

    def test_every_page_flowers_and_ours_has_the_sagas_tab_and_marks_its_own(self) -> None:
        login = {"Authorization": basic(LOGIN)}
        for path, active in (("/workers", "Workers"), ("/tasks", "Tasks"), ("/sagas", "Sagas")):
            page = " ".join(self.fetch(path, headers=login).body.decode().split())
            assert '<a class="nav-link" href="/sagas" >Sagas</a>' in page or (
                active == "Sagas" and 'href="/sagas" aria-current="page">Sagas</a>' in page), path
            assert f'aria-current="page">{active}</a>' in page, path

    def test_the_sagas_page_says_when_the_reconciler_last_ran_and_what_it_repaired(self) -> None:
        login = {"Authorization": basic(LOGIN)}
        assert "no pass yet" in self.fetch("/sagas", headers=login).body.decode()
        counters.record_reconciler_pass(self.engine, {"driven": 2, "checked": 0, "voided": 0,
                                                      "started": 1})
        counters.record_reconciler_pass(self.engine, {"driven": 0, "checked": 0, "voided": 0,
                                                      "started": 0})
        page = " ".join(self.fetch("/sagas", headers=login).body.decode().split())
        assert 'data-passes="2"' in page and "2 passes" in page
        assert "Last repair" in page and ": driven 2, started 1." in page
        assert "In all: driven 2, checked 0, voided 0, started 1." in page

    def test_an_action_without_the_pages_token_is_refused(self) -> None:
        answer = self.fetch("/sagas/o-1/retry", method="POST", body="",
                            headers={"Authorization": basic(LOGIN)})
        assert answer.code == 403


    def test_flowers_api_sends_no_task_and_revokes_none(self) -> None:
        login = {"Authorization": basic(LOGIN)}
        for path in ("/api/task/send-task/saga.start", "/api/task/apply/saga.start",
                     "/api/task/async-apply/saga.finalise_order", "/api/task/revoke/x",
                     "/api/task/abort/x", "/api/task/timeout/x", "/api/task/rate-limit/x"):
            assert self.fetch(path, method="POST", body="{}", headers=login).code == 404, path
        assert self.fetch("/api/task/types", headers=login).code == 200


def test_wrong_passwords_beyond_the_free_ones_double_the_wait_up_to_its_cap() -> None:
    from orchestrator.entrypoints.dashboard.login import Backoff

    now = [0.0]
    backoff = Backoff(free=2, first_s=1, cap_s=8, forget_s=900, clock=lambda: now[0])
    waits = []
    for _ in range(7):
        backoff.failed("10.0.0.9")
        waits.append(backoff.wait_s("10.0.0.9"))
    assert waits == [0, 0, 1, 2, 4, 8, 8]
    assert backoff.wait_s("10.0.0.8") == 0         # another key may try
    now[0] = 901
    assert backoff.wait_s("10.0.0.9") == 0 and "10.0.0.9" not in backoff.failures   # forgotten


def test_the_failures_kept_are_bounded_however_many_addresses_guess() -> None:
    from orchestrator.entrypoints.dashboard.login import Backoff

    backoff = Backoff(free=0, keys=100)
    for n in range(1000):
        backoff.failed(f"10.0.{n // 256}.{n % 256}")
    assert len(backoff.failures) == 100


def test_an_unknown_user_name_is_one_account_whatever_it_is() -> None:
    from orchestrator.entrypoints.dashboard.login import OTHER_USER, account_of

    assert account_of(basic("techlead:guess"), [LOGIN]) == "techlead"
    assert account_of(basic("root:guess"), [LOGIN]) == account_of(None, [LOGIN]) == OTHER_USER


class ThrottledApp(GuardedApp):
    def get_httpserver_options(self) -> dict[str, Any]:
        return {"xheaders": True}   # as Flower's --xheaders would: remote_ip is X-Real-Ip's

    def tearDown(self) -> None:
        from orchestrator.entrypoints.dashboard.login import THROTTLE

        THROTTLE.clear()
        super().tearDown()

    def test_after_five_wrong_passwords_the_right_one_waits_a_second_not_a_minute(self) -> None:
        for _ in range(6):
            assert self.fetch("/hello", headers={"Authorization": basic("techlead:no")}).code == 401
        refused = self.fetch("/hello", headers={"Authorization": basic(LOGIN)})
        assert refused.code == 429 and refused.headers["Retry-After"] == "1"

    def test_a_forged_real_ip_or_forwarded_for_is_not_another_address(self) -> None:
        for n in range(6):
            forged = {"Authorization": basic("techlead:no"), "X-Real-Ip": f"10.1.1.{n}",
                      "X-Forwarded-For": f"10.2.2.{n}"}
            assert self.fetch("/hello", headers=forged).code == 401
        assert self.fetch("/hello", headers={"Authorization": basic("techlead:no"),
                                             "X-Forwarded-For": "10.3.3.3"}).code == 429


def test_the_dashboard_writes_a_duration_as_the_command_line_does() -> None:
    from orchestrator.entrypoints.dashboard.pages import seconds
    from orchestrator.entrypoints.saga_text import duration

    for value in (0.85, 4.2, 200, 7500, 200_000):
        assert seconds(value) == duration(value)
    assert seconds(200) == "3m 20s" and seconds(None) == "—"
