"""`python -m orchestrator.entrypoints.dashboard [--address=...] [--port=...]`: Flower with the
saga view.

Takes Flower's own options, from the command line and `FLOWER_*` variables, exactly as
`celery -A orchestrator flower` does; the login is user `techlead` with the password in
`FLOWER_PASSWORD` (required: no password is written in the code).
"""

from __future__ import annotations

import atexit
import signal
import sys

from flower.command import (apply_env_options, apply_options, extract_settings, print_banner,
                            setup_logging, sigterm_handler)
from flower.urls import settings
from tornado.options import options

from glastonbury import logs
from glastonbury import settings as glastonbury_settings
from glastonbury.auth import secret
from glastonbury.client_address import trusted_networks
from glastonbury.process import tune_garbage_collector
from orchestrator.entrypoints.celery_app import app as celery_app
from orchestrator.entrypoints.dashboard.app import make_dashboard
from orchestrator.entrypoints.dashboard.login import USER



def configure(argv: list[str]) -> None:
    """Flower's options and settings as its command would set them, plus our login."""
    apply_env_options()
    apply_options(sys.argv[0], argv)
    password = secret("FLOWER_PASSWORD")
    if not password:
        sys.exit("FLOWER_PASSWORD is not set: the dashboard needs the techlead password")
    if options.url_prefix:
        sys.exit("--url_prefix is not supported: the saga pages live at the root")
    options.basic_auth = [f"{USER}:{password}"]
    extract_settings()
    try:   # whose X-Forwarded-For the login believes (Flower's --xheaders changes nothing)
        settings["trusted_proxies"] = trusted_networks(glastonbury_settings.trusted_proxies())
    except ValueError as error:
        sys.exit(str(error))
    setup_logging()
    logs.configure("dashboard")


def main(argv: list[str]) -> None:
    configure(argv)
    dashboard = make_dashboard(celery_app, options, settings)
    atexit.register(dashboard.stop)
    signal.signal(signal.SIGTERM, sigterm_handler)
    port = dashboard.start_http_server()
    print_banner(celery_app, "ssl_options" in settings, port)
    tune_garbage_collector()
    try:
        dashboard.start()
    except (KeyboardInterrupt, SystemExit):
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
