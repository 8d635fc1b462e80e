"""glastonbury.client_address: the peer's address, or what our own proxies say it is."""

from __future__ import annotations

import pytest

from glastonbury.client_address import client_address, limit_key, trusted_networks

PROXIES = trusted_networks(["10.0.0.5", "172.18.0.0/16"])


def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_headers_say() -> None:
    assert client_address("203.0.113.7", ["198.51.100.1"], ()) == "203.0.113.7"


def test_a_forwarded_for_header_from_a_peer_that_is_no_proxy_of_ours_is_not_believed() -> None:
    assert client_address("203.0.113.7", ["198.51.100.1"], PROXIES) == "203.0.113.7"


def test_behind_a_trusted_proxy_the_client_is_the_hop_the_proxy_appended() -> None:
    # The client wrote "1.2.3.4" itself; our proxy appended the address it saw.
    assert client_address("10.0.0.5", ["1.2.3.4, 198.51.100.9"], PROXIES) == "198.51.100.9"


def test_hops_written_by_a_chain_of_trusted_proxies_are_passed_over() -> None:
    forwarded = ["1.2.3.4, 198.51.100.9", "172.18.0.3"]   # two header lines, in order
    assert client_address("10.0.0.5", forwarded, PROXIES) == "198.51.100.9"


@pytest.mark.parametrize("forwarded", [[], [""], ["172.18.0.3"]])
def test_with_no_untrusted_hop_the_nearest_proxy_is_the_client(forwarded: list[str]) -> None:
    assert client_address("10.0.0.5", forwarded, PROXIES) in {"10.0.0.5", "172.18.0.3"}


def test_a_hop_that_is_no_address_stops_the_walk_at_the_proxy_right_of_it() -> None:
    assert client_address("10.0.0.5", ["1.2.3.4, junk, 172.18.0.3"], PROXIES) == "172.18.0.3"


def test_a_trusted_proxies_entry_that_is_no_address_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="'proxy.local'"):
        trusted_networks(["10.0.0.5", "proxy.local"])


def test_an_ipv6_client_is_counted_by_its_64_and_an_ipv4_one_by_its_address() -> None:
    assert limit_key("2001:db8:1:2:3:4:5:6") == limit_key("2001:db8:1:2:ffff::1") \
        == "2001:db8:1:2::/64"
    assert limit_key("::ffff:198.51.100.9") == "198.51.100.9"
    assert limit_key("198.51.100.9") == "198.51.100.9"
