"""A PostgreSQL server of the chaos run's own (`CHAOS_DATABASE=postgresql`).

The run's services keep their databases on it, as in production, and the run kills it with
SIGKILL (the postmaster and every backend: a crash) and starts it again like any other part: it
is the stack's part `postgresql`. It comes from Debian's `postgresql` package (`initdb`,
`postgres` under /usr/lib/postgresql/<version>/bin; `.ci/run` installs it), runs on a free
port with its data in a folder of its own, trusts local connections, and has one database per
service (glastonbury.topology.DATABASES). As root it runs as the `postgres` user (initdb
refuses root).
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from devtools.devstack import binaries
from glastonbury.topology import DATABASES

NAME = "postgresql"
INSTALLED = Path("/usr/lib/postgresql")


def server_binaries() -> Path | None:
    """The newest installed version's bin folder, or None without Debian's postgresql."""
    found = sorted(INSTALLED.glob("*/bin/postgres"), key=lambda path: int(path.parts[-3])
                   if path.parts[-3].isdigit() else 0)
    return found[-1].parent if found else None


class PostgresServer:
    """One PostgreSQL server: `initdb` once, then `command()` is the part's command line."""

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.port = binaries.free_port()
        # Not under the run's folder: mkdtemp's 0700 would keep the postgres user out of it.
        self.home = Path(tempfile.mkdtemp(prefix="glastonbury-chaos-postgresql-"))
        self.data = self.home / "data"
        self.user = "postgres" if os.geteuid() == 0 else None

    def initdb(self) -> None:
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.home, entry.pw_uid, entry.pw_gid)
        subprocess.run([*self._as_user(), str(self.bin_dir / "initdb"), "-D", str(self.data),
                        "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"],
                       check=True, stdout=subprocess.DEVNULL)

    def command(self) -> str:
        """The server in the foreground, as the part's shell line (`exec`: killing the part's
        process group kills the postmaster and its backends)."""
        return "exec " + shlex.join([
            *self._as_user(), str(self.bin_dir / "postgres"), "-D", str(self.data),
            "-p", str(self.port), "-k", str(self.home), "-c", "listen_addresses=127.0.0.1",
            "-c", "max_connections=200"])

    def create_databases(self) -> None:
        for name in DATABASES:
            subprocess.run([str(self.bin_dir / "createdb"), "-h", "127.0.0.1", "-p",
                            str(self.port), "-U", "postgres", name], check=True)

    def database_urls(self) -> dict[str, str]:
        """Each service's `<SERVICE>_DATABASE_URL` on this server."""
        return {f"{name.upper()}_DATABASE_URL":
                f"postgresql://postgres@127.0.0.1:{self.port}/{name}" for name in DATABASES}

    def remove(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)

    def _as_user(self) -> list[str]:
        if not self.user:
            return []
        return ["setpriv", f"--reuid={self.user}", f"--regid={self.user}", "--init-groups"]
