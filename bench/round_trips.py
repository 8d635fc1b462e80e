"""Every round trip a saga makes, counted per part of the stack (bench/README.md, "Round trips").

Two sources, read before and after a phase:
  - each part's own counts (`bench/counting/sitecustomize.py`, loaded into every process of the
    bench's stack): PostgreSQL round trips, SQL statements, commits and pings, HTTP requests sent
    and answered, Celery messages sent, tasks run and events published, Redis commands, Kafka
    requests and records produced and consumed;
  - the servers' own: Redis `INFO commandstats` (calls per command; on the machine's shared
    Redis other databases' users count too) and, on PostgreSQL, `pg_stat_database`'s committed
    and rolled-back transactions of each service's database (the stack's alone).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psutil
import redis
from sqlalchemy import create_engine, text

from bench.counting import sitecustomize as counting

COUNTING_PATH = Path(counting.__file__).parent


def environment(directory: Path) -> dict[str, str]:
    """What the stack's parts need in their environment to count (see the module's doc)."""
    directory.mkdir(parents=True, exist_ok=True)
    return {"PYTHONPATH": str(COUNTING_PATH), "BENCH_COUNTERS_DIR": str(directory)}


class RoundTrips:
    """Reads the counts of the stack's parts and of its servers."""

    def __init__(self, directory: Path, processes: dict[str, Any], redis_url: str,
                 database_urls: dict[str, str]):
        self.directory, self.processes = directory, processes
        self.redis = redis.Redis.from_url(redis_url)
        postgres = {service: url for service, url in database_urls.items()
                    if url.startswith("postgresql")}
        self.databases = {url.rsplit("/", 1)[1]: service for service, url in postgres.items()}
        self.postgres = create_engine(next(iter(postgres.values()))) if postgres else None

    def snapshot(self) -> dict[str, dict[str, int]]:
        """Counts so far: per part, plus `redis server` by command and `postgresql server`."""
        counts = self._by_part()
        counts["redis server"] = {
            command.removeprefix("cmdstat_"): int(stats["calls"])
            for command, stats in self.redis.info("commandstats").items()}
        if self.postgres is not None:
            with self.postgres.connect() as connection:
                rows = connection.execute(text(
                    "SELECT datname, xact_commit + xact_rollback FROM pg_stat_database "
                    "WHERE datname = ANY(:names)"), {"names": list(self.databases)})
                counts["postgresql server"] = {f"{self.databases[name]} transactions": int(n)
                                               for name, n in rows}
        return counts

    def _by_part(self) -> dict[str, dict[str, int]]:
        part_of = {}
        for part, process in self.processes.items():
            try:
                root = psutil.Process(process.pid)
                part_of.update({p.pid: part for p in [root, *root.children(recursive=True)]})
            except psutil.NoSuchProcess:
                continue
        counts: dict[str, dict[str, int]] = {}
        for path in self.directory.glob("*.counts"):
            part = part_of.get(int(path.stem), "ended processes")
            mine = counts.setdefault(part, {})
            for kind, n in counting.read(path).items():
                mine[kind] = mine.get(kind, 0) + n
        return counts


def per_unit(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]],
             units: int) -> dict[str, dict[str, float]]:
    """What each part counted between two snapshots, per unit of work (a saga), the zeros left
    out; and the sum over the parts, by kind, as `all parts`."""
    spent: dict[str, dict[str, float]] = {}
    for part, counts in after.items():
        was = before.get(part, {})
        delta = {kind: round((n - was.get(kind, 0)) / units, 2) for kind, n in counts.items()}
        delta = {kind: n for kind, n in delta.items() if n}
        if delta:
            spent[part] = dict(sorted(delta.items()))
    total: dict[str, float] = {}
    for part, counts in spent.items():
        if part.endswith("server"):
            continue
        for kind, n in counts.items():
            total[kind] = round(total.get(kind, 0) + n, 2)
    return {"all parts": dict(sorted(total.items())), **dict(sorted(spent.items()))}
