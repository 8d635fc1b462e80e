"""kombu's Redis transport, reusing one Redis client object per channel.

kombu builds a new `redis.Redis` for every command it sends outside its consumer loop
(`Channel.conn_or_acquire`): the publish of each step, each acknowledgement, each task event.
redis-py 8's client does a good deal of set-up (response callbacks, retry policy) per object;
in the worker's profile that was ~8 % of a saga step's CPU. The client is only a handle on the
channel's connection pool, which is thread-safe and fork-aware, so one per channel serves.

Celery apps use it when their broker is Redis (`broker_transport`, see `transport_for`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis as kombu_redis

CLASS_PATH = "glastonbury.redis_transport:Transport"


class Channel(kombu_redis.Channel):  # type: ignore[misc]
    _reused: tuple[Any, Any] | None = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        pool = self.pool  # a new pool after a reconnection gets a new client
        if self._reused is None or self._reused[0] is not pool:
            self._reused = (pool, self._create_client())
        yield self._reused[1]


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    Channel = Channel


def transport_for(broker_url: str) -> str | None:
    """The transport class for a broker URL: this one for Redis, kombu's choice otherwise."""
    return CLASS_PATH if broker_url.startswith(("redis://", "rediss://")) else None
