"""The client-address rule (socket peer; ``X-Forwarded-For`` only from trusted proxies) and the
delay curve. Pure functions: no database."""

from __future__ import annotations

import ipaddress

import pytest

from cordvault.core.errors import CordvaultError
from cordvault.core.settings import Settings, load_settings
from cordvault.drive.clients import client_address, client_info, throttle_key
from cordvault.drive.throttle import delay_after

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # No trusted proxy in the way: the header is ignored, whatever it says.
        ("203.0.113.7", "127.0.0.1", "203.0.113.7"),
        ("127.0.0.1", "198.51.100.1", "127.0.0.1"),
        # A trusted proxy: the right-most address it was not itself handed by a proxy.
        ("10.1.2.3", "198.51.100.1", "198.51.100.1"),
        ("10.1.2.3", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # left part: the client's lie
        ("10.1.2.3", "6.6.6.6, 198.51.100.1, 10.9.9.9", "198.51.100.1"),  # two proxies
        ("10.1.2.3", "10.4.4.4, 10.9.9.9", "10.4.4.4"),  # all trusted: the farthest one
        ("10.1.2.3", "not-an-ip", "10.1.2.3"),  # malformed: stop at the last trusted hop
        ("10.1.2.3", "", "10.1.2.3"),
        ("10.1.2.3", None, "10.1.2.3"),
        ("::1", "[2001:db8::5]:4711", "2001:db8::5"),
        ("10.1.2.3", "198.51.100.1:8080", "198.51.100.1"),
        ("::ffff:10.1.2.3", "198.51.100.1", "198.51.100.1"),  # v4-mapped peer
        ("testclient", "198.51.100.1", "testclient"),  # not an address: kept, never trusted
        (None, "198.51.100.1", "unknown"),
    ],
)
def test_client_address_rule(peer: str | None, forwarded: str | None, expected: str) -> None:
    assert client_address(peer, forwarded, PROXIES) == expected


def test_without_trusted_proxies_forwarded_for_is_never_believed() -> None:
    assert client_address("127.0.0.1", "198.51.100.1", ()) == "127.0.0.1"
    settings = Settings(trusted_proxies="")
    assert settings.trusted_proxy_networks == ()


def test_trusted_proxies_setting_is_parsed_and_checked() -> None:
    settings = Settings(trusted_proxies=" 127.0.0.1, 10.0.0.0/8 ,fd00::/8")
    assert [str(n) for n in settings.trusted_proxy_networks] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
        "fd00::/8",
    ]
    with pytest.raises(CordvaultError) as info:
        load_settings(trusted_proxies="10.0.0.0/8, proxy.example")
    assert info.value.details == {"names": ["TRUSTED_PROXIES"]}


def test_client_info_cuts_and_cleans_the_user_agent() -> None:
    info = client_info("127.0.0.2", None, "agent\x00\n" + "x" * 400, ())
    assert info.address == "127.0.0.2"
    assert info.user_agent.startswith("agent")
    assert len(info.user_agent) == 255
    assert "\x00" not in info.user_agent
    assert "\n" not in info.user_agent


def test_ipv6_clients_are_throttled_per_64() -> None:
    assert throttle_key("2001:db8:1:2:aaaa::1") == throttle_key("2001:db8:1:2:bbbb::9")
    assert throttle_key("2001:db8:1:2::1") != throttle_key("2001:db8:1:3::1")
    assert throttle_key("127.0.0.2") == "127.0.0.2"


def test_delays_grow_from_the_free_budget_up_to_the_cap() -> None:
    delays = [delay_after(n, 3, 1.0, 30.0) for n in range(1, 10)]
    assert delays == [0.0, 0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert delay_after(10**6, 3, 1.0, 30.0) == 30.0  # no overflow
