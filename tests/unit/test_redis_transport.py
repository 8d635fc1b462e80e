"""glastonbury/redis_transport.py overrides kombu's private `Channel.conn_or_acquire` (one Redis
client a channel instead of one a command: a no-op hop 1.3 -> 1.0 ms of CPU, bench/README.md).
kombu is pinned exactly for it (setup.cfg); this fails when the kombu installed is not the one the
override was written against, so that a new kombu is read before it is let in."""

from __future__ import annotations

import hashlib
import inspect
import textwrap

from kombu.transport import redis as kombu_redis

from glastonbury import redis_transport

# What the override relies on, as kombu 5.7.0 has it: the method it replaces, the client factory
# it calls, the pool whose identity tells a reconnection, and where a reconnection drops that pool.
# The digest is of each one's source as written (a syntax tree's dump differs between Pythons).
READ_AGAINST = {
    "conn_or_acquire": "01ab44dd770603a6",
    "_create_client": "376ef74d24a41659",
    "pool": "21755a780d16f22f",
    "_disconnect_pools": "d4a0636e51ad6352",
}


def digest(name: str) -> str:
    member = inspect.getattr_static(kombu_redis.Channel, name)
    code = member.fget if isinstance(member, property) else member
    return hashlib.sha256(textwrap.dedent(inspect.getsource(code)).encode()).hexdigest()[:16]


def test_kombus_redis_channel_is_the_one_the_override_was_written_against() -> None:
    changed = [name for name, expected in READ_AGAINST.items() if digest(name) != expected]
    assert not changed, (
        f"kombu's redis Channel changed {changed}. glastonbury/redis_transport.py overrides "
        "Channel.conn_or_acquire to hand out one client a channel (made by _create_client, "
        "made again when self.pool is a new pool after _disconnect_pools). Read the new kombu: "
        "if conn_or_acquire still yields a client per call from _create_client() and a "
        "reconnection still replaces self.pool, store the new digests here and raise kombu's pin "
        "in setup.cfg; if kombu now reuses a client itself, drop the override (and measure a hop "
        "as bench/README.md did); otherwise adapt it.")


def test_the_override_replaces_the_method_kombu_calls_with_the_same_signature() -> None:
    assert redis_transport.Transport.Channel is redis_transport.Channel
    assert issubclass(redis_transport.Channel, kombu_redis.Channel)
    ours = inspect.signature(redis_transport.Channel.conn_or_acquire)
    theirs = inspect.signature(kombu_redis.Channel.conn_or_acquire)
    assert list(ours.parameters) == list(theirs.parameters)
