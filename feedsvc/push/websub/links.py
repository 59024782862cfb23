"""What the publisher side advertises: the hubs of a feed and its self URL, as a Link header value
and as JSON Feed 1.1 `hubs`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from feedsvc.settings import Settings

PATH = "/websub"


def hub_url(settings: Settings, self_url: str) -> str:
    """The embedded hub's URL for a feed: under the configured base URL, else on the feed's origin
    (with no base URL set, feed URLs follow the request, and the hub must follow them)."""
    if settings.base_url:
        return settings.bound_url + PATH
    parts = urlsplit(self_url)
    return f"{parts.scheme}://{parts.netloc}{PATH}"


def hubs(settings: Settings, self_url: str) -> tuple[str, ...]:
    """Every hub to advertise for a feed: the embedded one (unless off), then the external ones."""
    embedded = (hub_url(settings, self_url),) if settings.websub else ()
    return embedded + tuple(h for h in settings.websub_hubs if h not in embedded)


def link_header(settings: Settings, self_url: str) -> str:
    """The Link header value of a feed response: each hub, then exactly one self; '' when there is
    no hub to advertise (send no Link header then)."""
    found = hubs(settings, self_url)
    if not found:
        return ""
    return ", ".join([*(f'<{h}>; rel="hub"' for h in found), f'<{self_url}>; rel="self"'])


def json_hubs(settings: Settings, self_url: str) -> list[dict[str, Any]]:
    """JSON Feed 1.1's `hubs` member."""
    return [{"type": "WebSub", "url": h} for h in hubs(settings, self_url)]
