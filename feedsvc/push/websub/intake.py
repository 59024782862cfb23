"""Reading a subscription request (POST /websub): the form, checked field by field.

Every refusal is a 4xx with a one-line plain-text reason, decided before anything is stored and
never depending on what verification will find.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web

from feedsvc.push.websub.client import read_at_most
from feedsvc.push.websub.guard import Guard
from feedsvc.push.websub.limits import Limits
from feedsvc.push.websub.model import Mode
from feedsvc.settings import Settings

FORM = "application/x-www-form-urlencoded"
_TOKEN_MAX = 255


class Refusal(Exception):
    """A request the hub answers with `status` and `reason` (plain text)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Request:
    """A subscription request that passed every check."""

    mode: Mode
    topic: str
    callback: str
    host: str  # the callback's host, lower case: what the per-host caps count
    lease: int  # granted (clamped) seconds
    secret: str | None = field(repr=False)
    verify_token: str | None = field(repr=False)


async def read_form(request: web.Request, limits: Limits) -> dict[str, str]:
    """The form's fields (the first of repeated ones), read without aiohttp's client_max_size."""
    if request.content_type != FORM:
        raise Refusal(415, f"the request body must be {FORM}")
    if request.content_length is not None and request.content_length > limits.form_max_bytes:
        raise Refusal(413, f"the form is larger than {limits.form_max_bytes} bytes")
    raw = await read_at_most(request.content, limits.form_max_bytes)
    if len(raw) > limits.form_max_bytes:
        raise Refusal(413, f"the form is larger than {limits.form_max_bytes} bytes")
    try:
        pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, encoding="utf-8", errors="strict",
                          max_num_fields=64)
    except (UnicodeDecodeError, ValueError):
        raise Refusal(400, "the form is not valid application/x-www-form-urlencoded UTF-8 (at most 64 fields)")
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name, "")
    if not value:
        raise Refusal(400, f"{name} is required")
    return value


def check(form: dict[str, str], limits: Limits, guard: Guard, topics: Callable[[str], bool]) -> Request:
    """The request a form makes, or the Refusal that answers it; unknown fields are ignored."""
    mode_text = _required(form, "hub.mode")
    if mode_text == "publish":
        raise Refusal(400, "hub.mode=publish is not accepted: this hub distributes only its own feeds")
    try:
        mode = Mode(mode_text)
    except ValueError:
        raise Refusal(400, "hub.mode must be subscribe or unsubscribe")
    topic = _required(form, "hub.topic")
    if len(topic) > limits.url_max_chars or not topics(topic):
        raise Refusal(400, "hub.topic is not a feed of this service")
    callback = _required(form, "hub.callback")
    if (why := guard.check_url(callback, limits.url_max_chars)) is not None:
        raise Refusal(400, f"hub.callback {why}")
    requested: int | None = None
    if lease_text := form.get("hub.lease_seconds", ""):
        if not (lease_text.isascii() and lease_text.isdigit()) or len(lease_text) > 12:
            raise Refusal(400, "hub.lease_seconds must be a whole number of seconds")
        requested = int(lease_text)
    secret = form.get("hub.secret") or None
    if secret is not None and len(secret.encode()) > limits.secret_max_bytes:
        raise Refusal(400, f"hub.secret must be under {limits.secret_max_bytes + 1} bytes")
    token = form.get("hub.verify_token") or None
    if token is not None and len(token) > _TOKEN_MAX:
        raise Refusal(400, f"hub.verify_token must be at most {_TOKEN_MAX} characters")
    host = (urlsplit(callback).hostname or "").lower()
    return Request(mode, topic, callback, host, limits.lease(requested), secret, token)


def client_address(request: web.Request, settings: Settings) -> str:
    """The client's address: the peer's, or from X-Forwarded-For when the peer is a trusted proxy
    (the rightmost address not itself a trusted proxy)."""
    peer = request.remote or ""
    if not settings.trusted_proxy(peer):
        return peer
    hops = [hop.strip() for value in request.headers.getall("X-Forwarded-For", ()) for hop in value.split(",")]
    for hop in reversed(hops):
        if hop and not settings.trusted_proxy(hop):
            return hop
    return peer
