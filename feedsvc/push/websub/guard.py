"""The SSRF guard: which callback URLs and addresses the hub may reach.

Strangers choose callback URLs, so the hub would otherwise fetch whatever they name: the loopback
admin port, the cloud metadata address, the office network. Three checks, each on what is really
used:

* at subscription time, the URL's shape (http or https, no userinfo, a sane port) and, for an IP
  literal, the address (aiohttp never asks a resolver about literals);
* the resolver every outgoing request uses keeps only the allowed addresses a name resolves to, so
  the connector only ever tries those;
* the connector's socket factory checks the exact address each socket is about to connect to
  (literals included), so nothing that reaches `connect()` escapes the rule.

Allowed: globally routable unicast addresses, plus the operator's `websub_allow_callbacks`
networks. IPv4 addresses embedded in IPv6 ones (mapped, compatible, 6to4, NAT64) are judged as the
IPv4 address they reach.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult

from feedsvc.settings import Network

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_COMPAT = ipaddress.IPv6Network("::/96")
_PORTS = frozenset({80, 443})  # below 1024, only the web's own ports


class Refused(OSError):
    """An address or URL the guard does not let the hub reach."""


def _embedded(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for, if it is one of the forms that carry one."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _COMPAT and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def parse_address(text: str) -> Address | None:
    """An IP address from a host as written in a URL or a socket address (brackets and a zone
    allowed); None for a name."""
    text = text.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class Guard:
    """The rule, with the operator's extra networks."""

    def __init__(self, allow: Sequence[Network] = ()) -> None:
        self.allow = tuple(allow)

    def allowed(self, ip: Address) -> bool:
        if any(ip.version == net.version and ip in net for net in self.allow):
            return True
        if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded(ip)) is not None:
            return self.allowed(inner)
        if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:  # fec0::/10, deprecated but routed inside
            return False
        return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)

    def allowed_host(self, host: str) -> bool:
        ip = parse_address(host)
        return ip is not None and self.allowed(ip)

    def check_url(self, url: str, max_chars: int = 2048) -> str | None:
        """Why `url` may not be a callback, or None if it may (a name still has to resolve to
        allowed addresses when it is used)."""
        if len(url) > max_chars:
            return f"is longer than {max_chars} characters"
        if not url.isascii() or any(c <= " " or c == "\x7f" for c in url):
            return "must be ASCII without spaces or control characters (percent-encode the rest)"
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return "is not a valid URL"
        if parts.scheme not in ("http", "https"):
            return "must be an http or https URL"
        if "@" in parts.netloc:
            return "must not contain a user name or password"
        host = parts.hostname
        if not host:
            return "has no host"
        if port is not None and port < 1024 and port not in _PORTS:
            return f"port {port} is not allowed (80, 443 or 1024 and above)"
        ip = parse_address(host)
        if ip is None:
            if host.replace(".", "").isdigit():
                return "is not a canonical IP address"
            return None
        if not self.allowed(ip):
            return f"address {ip} is not a public address"
        return None

    def socket_factory(self, addr_info: tuple[int, int, int, str, tuple[object, ...]]) -> socket.socket:
        """aiohttp's socket factory: the last check, on the address about to be connected to."""
        family, kind, proto, _, sockaddr = addr_info
        host = str(sockaddr[0])
        if not self.allowed_host(host):
            raise Refused(f"refusing to connect to {host}: not a public address")
        return socket.socket(family, kind, proto)


class GuardedResolver(AbstractResolver):
    """A resolver that returns only the addresses the guard allows, and refuses a name with none."""

    def __init__(self, guard: Guard, inner: AbstractResolver) -> None:
        self._guard = guard
        self._inner = inner

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        kept = [result for result in found if self._guard.allowed_host(result["host"])]
        if not kept:
            raise Refused(f"{host} resolves to no public address")
        return kept

    async def close(self) -> None:
        await self._inner.close()


def refused(exc: BaseException) -> bool:
    """Whether an aiohttp error was the guard refusing (somewhere in its chain of causes)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, Refused):
            return True
        todo += [getattr(current, "os_error", None), current.__cause__, current.__context__]
    return False
