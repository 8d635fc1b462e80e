"""The production reverse proxy's configuration (deploy/nginx/glastonbury.conf.template) run with
Debian's nginx in front of a test stack, as a child of the test: its own prefix in a temporary
folder (pid, temporary files, error log), free ports, and a user without privileges."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from tests.e2e.stack import ROOT, wait_for

TEMPLATE = ROOT / "deploy" / "nginx" / "glastonbury.conf.template"
INSTALL = "apt-get install --no-install-recommends nginx"   # as root; .ci/run does it
PLACEHOLDER = re.compile(r"\$\{(\w+)\}|\$(\w+)")

# What the official image's nginx.conf wraps its conf.d/ in (its `keepalive_timeout 65` too: the
# template must not set at the http level what the image already does).
MAIN = """\
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log notice;
events {{ worker_connections 1024; }}
http {{
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    keepalive_timeout 65;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/default.conf;
}}
"""


def nginx() -> str | None:
    """Debian's nginx, where it is installed (in /usr/sbin, off a user's PATH)."""
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx",) if os.access(path, os.X_OK)), None)


def render(template: str, values: dict[str, str]) -> str:
    """What the official image's envsubst writes, given `values` as its environment: `$NAME` and
    `${NAME}` of each name given replaced, anything else (nginx's `$variables`) left alone."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return values[name] if name in values else match.group(0)

    rendered = PLACEHOLDER.sub(value, template)
    missing = set(re.findall(r"\$\{([A-Z]\w*)\}", rendered))
    assert not missing, f"the template asks for {sorted(missing)}, which the test does not give"
    return rendered


class Proxy:
    """nginx running the template with `values`; stopped by `stop()`."""

    def __init__(self, values: dict[str, str]):
        self.prefix = Path(tempfile.mkdtemp(prefix="glastonbury-proxy-"))
        (self.prefix / "default.conf").write_text(render(TEMPLATE.read_text(), values))
        (self.prefix / "nginx.conf").write_text(MAIN.format(prefix=self.prefix))
        self.ports = [int(values["ORDER_LISTEN"]), int(values["DASHBOARD_LISTEN"])]
        self.process: subprocess.Popen | None = None

    def start(self, executable: str) -> None:
        user: dict = {}
        if os.geteuid() == 0:   # never root: the test's nginx runs as nobody
            nobody = pwd.getpwnam("nobody")
            os.chown(self.prefix, nobody.pw_uid, nobody.pw_gid)
            for path in self.prefix.iterdir():
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
            user = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
        self.process = subprocess.Popen(
            [executable, "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf"),
             "-e", str(self.prefix / "error.log"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, **user)
        wait_for(self._listening, 20, f"nginx listening on {self.ports}")

    def _listening(self) -> bool:
        assert self.process is not None and self.process.poll() is None, (
            f"nginx stopped: {self.error_log()}")
        import socket

        try:
            for port in self.ports:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        shutil.rmtree(self.prefix, ignore_errors=True)
