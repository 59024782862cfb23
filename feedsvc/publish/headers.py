"""Response header policy: what every kind of answer carries, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from feedsvc.settings import Settings

JSON = "application/json; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
# Answers that describe this moment (health, metrics, errors, the hub's replies): never cached.
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def momentary(media_type: str) -> dict[str, str]:
    """An answer that describes this moment, of `media_type`: an error, /healthz, /metrics, the
    WebSub hub's reply to a subscription request."""
    return {**NO_STORE, "Content-Type": media_type}


def _cached(max_age: int, shared_max_age: int | None = None) -> dict[str, str]:
    # s-maxage: a shared cache in front (nginx, a CDN) revalidates every few seconds, by ETag, so a
    # change shows through it at once, while each reader's own cache keeps its polling interval.
    shared = "" if shared_max_age is None else f", s-maxage={min(shared_max_age, max_age)}"
    return {"Cache-Control": f"public, max-age={max_age}{shared}", "X-Content-Type-Options": "nosniff"}


def feed(settings: Settings) -> dict[str, str]:
    """A feed: cacheable, readable from any origin (browser code polls feeds too)."""
    return {**_cached(settings.max_age, settings.shared_max_age), "Access-Control-Allow-Origin": "*",
            "Access-Control-Expose-Headers": "ETag, Last-Modified, Link"}


def page(settings: Settings) -> dict[str, str]:
    """An HTML page: cacheable, no scripts and no outside resources, no referrer leaks."""
    return {**_cached(settings.max_age, settings.shared_max_age),
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'",
            "Referrer-Policy": "no-referrer"}


def static() -> dict[str, str]:
    """An icon: the same bytes for a whole release, so caches may keep it for a day."""
    return {**_cached(86400), "Access-Control-Allow-Origin": "*"}


def preflight() -> dict[str, str]:
    """The answer to a CORS preflight of any GET route."""
    return {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
            "Access-Control-Allow-Headers": "If-None-Match, If-Modified-Since, Cache-Control, Accept",
            "Access-Control-Expose-Headers": "ETag, Last-Modified, Link", "Access-Control-Max-Age": "86400",
            "Cache-Control": "public, max-age=86400", "Vary": "Origin"}


def newsroom() -> dict[str, str]:
    """The newsroom's pages: private, revalidated every time, one script of our own (the refresh)."""
    return {"Cache-Control": "private, no-cache", "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; "
                                       "connect-src 'self'; img-src 'self'",
            "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex", "Vary": "Authorization, Cookie"}


def unauthorized() -> dict[str, str]:
    return {**momentary(TEXT), "WWW-Authenticate": 'Bearer realm="feedsvc newsroom"'}
