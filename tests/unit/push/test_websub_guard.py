"""The SSRF guard: the address rule, callback URL checks, the guarded resolver and socket factory,
and the hub refusing callbacks on loopback under the default settings, and private addresses a
name resolves to (a resolver the test controls: no real name is ever looked up).

Nothing here connects anywhere but loopback: refusals happen before connect(), and the tripwire
fixture fails the test if any code tries otherwise."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Any

import pytest
from helpers.websub import (
    ATOM,
    FakeResolver,
    Subscriber,
    loopback_only_fixture,  # noqa: F401  (autouse: nothing leaves loopback)
    start_hub,
    subscriber_fixture,  # noqa: F401
)

from feedsvc.push.websub import Guard, GuardedResolver, Limits, Refused
from feedsvc.push.websub.client import open_session
from feedsvc.push.websub.deliver import deliver
from feedsvc.push.websub.guard import refused
from feedsvc.push.websub.model import DeliveryJob, DeliveryOutcome, Subscription

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "192.0.0.1", "198.18.0.1", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
    "::1", "::", "fe80::1", "fd00::1", "fc00::1", "fec0::1", "ff02::1", "ff0e::1", "2001:db8::1", "2001::1",
    "::ffff:10.0.0.1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::10.0.0.1",
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b:1::1",  # local-use NAT64
])
def test_not_global_addresses_are_refused(address: str) -> None:
    assert not Guard().allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700::1111",
                                     "2001:4860:4860::8888", "::ffff:8.8.8.8", "2002:808:808::1", "64:ff9b::808:808"])
def test_global_addresses_are_allowed(address: str) -> None:
    # Only classified: nothing connects to them.
    assert Guard().allowed(ipaddress.ip_address(address))


def test_allowed_networks_extend_the_rule() -> None:
    guard = Guard((LOOPBACK, ipaddress.ip_network("fd00::/8")))
    for address in ("127.0.0.1", "::ffff:127.0.0.1", "fd12::1"):
        assert guard.allowed(ipaddress.ip_address(address))
    for address in ("10.0.0.1", "::1", "169.254.169.254"):
        assert not guard.allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize(("url", "why"), [
    ("http://127.0.0.1:8080/cb", "not a public address"),
    ("http://[::1]:8080/cb", "not a public address"),
    ("http://[::ffff:10.0.0.1]/cb", "not a public address"),
    ("http://169.254.169.254/latest/meta-data/", "not a public address"),
    ("http://[fe80::1%25eth0]:8080/", "not a public address"),
    ("http://2130706433/", "not a canonical IP address"),
    ("http://127.1/", "not a canonical IP address"),
    ("http://user:pw@example.org/cb", "user name or password"),
    ("http://@example.org/cb", "user name or password"),
    ("ftp://example.org/cb", "http or https"),
    ("javascript:alert(1)", "http or https"),
    ("http:///cb", "has no host"),
    ("http://example.org:22/cb", "port 22"),
    ("http://example.org:99999/cb", "not a valid URL"),
    ("http://exa mple.org/cb", "ASCII without spaces"),
    ("http://приклад.укр/cb", "ASCII without spaces"),
    ("http://example.org/" + "x" * 3000, "longer than"),
])
def test_callback_urls_refused(url: str, why: str) -> None:
    found = Guard().check_url(url)
    assert found is not None and why in found


@pytest.mark.parametrize("url", ["https://example.org/cb", "http://example.org:8080/cb?k=1", "http://93.184.216.34/x",
                                 "https://[2606:4700::1111]/cb", "http://EXAMPLE.org:443/", "http://xn--80aa/cb"])
def test_callback_urls_taken(url: str) -> None:
    assert Guard().check_url(url) is None


async def test_guarded_resolver_keeps_only_allowed_addresses() -> None:
    inner = FakeResolver({"mixed.test": ["10.0.0.1", "127.0.0.1", "fd00::1"], "private.test": ["10.0.0.1"]})
    resolver = GuardedResolver(Guard((LOOPBACK,)), inner)
    assert [r["host"] for r in await resolver.resolve("mixed.test", 80, socket.AF_UNSPEC)] == ["127.0.0.1"]
    with pytest.raises(Refused):
        await resolver.resolve("private.test", 80, socket.AF_UNSPEC)
    with pytest.raises(Refused):
        await GuardedResolver(Guard(), inner).resolve("mixed.test", 80, socket.AF_UNSPEC)


def test_socket_factory_checks_the_address_connected_to() -> None:
    guard = Guard((LOOPBACK,))
    with pytest.raises(Refused):
        guard.socket_factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", 80)))
    with pytest.raises(Refused):
        guard.socket_factory((socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::ffff:10.0.0.1", 80, 0, 0)))
    sock = guard.socket_factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80)))
    sock.close()


async def test_ip_literals_are_refused_at_connect_time_too(subscriber: Subscriber) -> None:
    """aiohttp never asks the resolver about a literal: the socket factory refuses it."""
    session = open_session(Guard(), FakeResolver(), limit=4)
    try:
        sub = Subscription(1, ATOM, subscriber.url("a"), "127.0.0.1", None, 2e9)
        job = DeliveryJob(sub, 1, "k", "application/atom+xml", 0, 0.0)
        assert await deliver(session, job, b"<feed/>", "http://hub.test/websub", Limits()) is DeliveryOutcome.REFUSED
    finally:
        await session.close()
    assert subscriber.requests == 0


def test_refused_is_found_in_a_chain_of_causes() -> None:
    try:
        try:
            raise Refused("no")
        except Refused as exc:
            raise OSError("wrapped") from exc
    except OSError as outer:
        assert refused(outer)
    assert not refused(OSError("other"))


# -- the hub with the guard --------------------------------------------------------------------

@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]"])
async def test_loopback_literal_callbacks_are_refused_under_default_settings(
        aiohttp_client: Any, tmp_path: Path, subscriber: Subscriber, host: str) -> None:
    hub = await start_hub(aiohttp_client, tmp_path, allow=None, resolver=FakeResolver())
    status, _, text = await hub.post(**{"hub.mode": "subscribe", "hub.topic": ATOM,
                                        "hub.callback": subscriber.url("a", host=host)})
    assert status == 400 and "not a public address" in text
    assert subscriber.requests == 0


@pytest.mark.parametrize("addresses", [["127.0.0.1"], ["10.0.0.1"], ["169.254.169.254"], ["::ffff:10.0.0.1"],
                                       ["fd00::1"], ["::1", "100.64.0.1"]])
async def test_names_resolving_to_private_addresses_are_refused(aiohttp_client: Any, tmp_path: Path,
                                                                subscriber: Subscriber, addresses: list[str]) -> None:
    resolver = FakeResolver({"evil.test": addresses})
    hub = await start_hub(aiohttp_client, tmp_path, allow=None, resolver=resolver)
    assert await hub.subscribe(subscriber.url("a", host="evil.test")) == 202  # the answer never tells
    await hub.hub.idle()
    assert resolver.asked == ["evil.test"]
    assert subscriber.requests == 0
    assert await hub.live() == 0
    assert hub.sample("feedsvc_websub_verifications_total", mode="subscribe", outcome="refused") == 1


async def test_only_the_allowed_address_of_a_name_is_connected_to(aiohttp_client: Any, tmp_path: Path,
                                                                  subscriber: Subscriber) -> None:
    resolver = FakeResolver({"mixed.test": ["10.0.0.1", "169.254.169.254", "127.0.0.1"]})
    hub = await start_hub(aiohttp_client, tmp_path, resolver=resolver)  # allows 127.0.0.0/8
    assert await hub.subscribe(subscriber.url("a", host="mixed.test")) == 202
    await subscriber.wait(lambda: bool(subscriber.verified("a")), "verification")
    await hub.hub.idle()
    assert await hub.live() == 1


async def test_a_name_rebound_to_a_private_address_gets_no_delivery(aiohttp_client: Any, tmp_path: Path,
                                                                    subscriber: Subscriber) -> None:
    resolver = FakeResolver({"rebind.test": ["127.0.0.1"]})
    hub = await start_hub(aiohttp_client, tmp_path, resolver=resolver, allow="127.0.0.0/8")
    subscriber.on("a", close=True)  # a new connection for the delivery (a kept-alive one goes where it went)
    assert await hub.subscribe(subscriber.url("a", host="rebind.test")) == 202
    await subscriber.wait(lambda: bool(subscriber.verified("a")), "verification")
    await hub.hub.idle()
    resolver.table["rebind.test"] = ["10.0.0.1"]  # the attacker's DNS changes its answer
    hub.publish(ATOM, b"<feed/>")
    await subscriber.wait(lambda: hub.sample("feedsvc_websub_deliveries_total", outcome="refused") >= 1, "refusal")
    assert subscriber.deliveries == []


async def test_secrets_are_never_logged(aiohttp_client: Any, tmp_path: Path, subscriber: Subscriber,
                                        caplog: pytest.LogCaptureFixture) -> None:
    from collections import deque

    caplog.set_level("DEBUG", logger="feedsvc.websub")
    hub = await start_hub(aiohttp_client, tmp_path)
    secret = "do-not-log-me-0123456789"
    assert await hub.subscribe(subscriber.url("a", query="k=token-in-callback"), **{"hub.secret": secret}) == 202
    await subscriber.wait(lambda: bool(subscriber.verified("a")), "verification")
    await hub.hub.idle()
    subscriber.on("a", statuses=deque([500, 410]))
    hub.publish(ATOM, b"<feed/>")
    await subscriber.wait(lambda: len(subscriber.deliveries) == 2, "deliveries")
    await hub.hub.idle()
    text = caplog.text + repr(await hub.hub.subscriptions())
    assert caplog.records and secret not in text and "token-in-callback" not in text
