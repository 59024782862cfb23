"""The WebSub harness's own checks (the harness is tests/helpers/websub.py)."""

from __future__ import annotations

import socket

import pytest
from helpers.websub import FakeResolver, loopback_only_fixture  # noqa: F401  (autouse: nothing leaves loopback)


async def test_tripwire_refuses_other_addresses(loopback_only: list[str]) -> None:
    with pytest.raises(OSError, match="tripwire"):
        socket.getaddrinfo("example.com", 80)
    sock = socket.socket()
    try:
        with pytest.raises(OSError, match="tripwire"):
            sock.connect(("192.0.2.1", 9))  # TEST-NET-1: refused before any packet
    finally:
        sock.close()
    assert len(loopback_only) == 2
    loopback_only.clear()


async def test_fake_resolver_answers_from_its_table() -> None:
    resolver = FakeResolver({"a.test": ["127.0.0.1", "::1"]})
    found = await resolver.resolve("a.test", 80, socket.AF_UNSPEC)
    assert [(r["host"], r["family"]) for r in found] == [("127.0.0.1", socket.AF_INET), ("::1", socket.AF_INET6)]
    with pytest.raises(OSError):
        await resolver.resolve("b.test")
