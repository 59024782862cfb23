"""HTTP: the aiohttp application; handlers pick published bytes and answer conditional requests."""

from __future__ import annotations

import datetime as dt
import hmac
import json
import re
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from feedsvc.documents.files import shown
from feedsvc.documents.publications import AUTHOR, PUBLICATION, Topic
from feedsvc.documents.words import QueryError
from feedsvc.feeds import VIEWS, View
from feedsvc.feeds.directory import TopicRow, opensearch, opml, search_page, topics_page
from feedsvc.feeds.newsroom import preview_page, status_page
from feedsvc.feeds.views import BILINGUAL, FAVICON, FAVICON_ICO, HOME, ICON, LOGO, VIEW_LANGS, feed_path
from feedsvc.http.conditional import fresh
from feedsvc.http.connections import PROTECTION
from feedsvc.http.errors import ErrorAnswer, json_error
from feedsvc.http.status import Query, State, preview, status
from feedsvc.ops.metrics import Metrics
from feedsvc.publish import headers as policy
from feedsvc.publish.publisher import HOME_ENTRIES, Busy, Key, UnknownTopic
from feedsvc.publish.shelf import Rendered, tag_of
from feedsvc.push import websub
from feedsvc.service import Service
from feedsvc.settings import MAX_LIMIT, NEWSROOM_PAGE_SIZE, Settings
from feedsvc.store.queries import Found, Reader

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SERVICE = web.AppKey("service", Service)
METRICS = web.AppKey("metrics", Metrics)

EDITOR_COOKIE = "feedsvc_editor"
HEALTH_REJECTED = 100  # rejections listed on /healthz; the count gives the rest
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$")


_STARTING = "starting: the first scan of the seeds folder is not finished"


def _starting() -> web.Response:
    return json_error(503, _STARTING, **{"Retry-After": "1"})


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6 or not low <= int(raw) <= high:
        raise ErrorAnswer(400, f"{name} must be a whole number from {low} to {high}")
    return int(raw)


def _wants_gzip(accept: str) -> bool:
    """Whether an Accept-Encoding value accepts gzip."""
    if "gzip" not in accept:
        return False
    if ";" not in accept:  # no q-values: what nearly every client sends
        return True
    for part in accept.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            q = params.strip().lower()
            return not (q.startswith("q=") and q[2:].strip() in ("0", "0.0", "0.00", "0.000"))
    return False


def _respond(request: web.Request, rendered: Rendered) -> web.Response:
    """200 or 304 from cached bytes (feedsvc.http.conditional); either coding's tag stands for
    them, since a cache in front may hold the other one."""
    headers = request.headers
    gz = _wants_gzip(headers.get("Accept-Encoding", ""))
    # Nearly every poll sends back the exact tag we sent: matched without parsing the header.
    if headers.get("If-None-Match") in rendered.quoted or \
            fresh(request, (rendered.etag, f"{rendered.etag}-gzip"), rendered.last_modified):
        return web.Response(status=304, headers=rendered.headers_gzip if gz else rendered.headers)
    if gz:
        return web.Response(body=rendered.gzipped, headers=rendered.headers_gzip)
    return web.Response(body=rendered.body, headers=rendered.headers)


class Routes:
    """The handlers, bound to one service."""

    def __init__(self, settings: Settings, service: Service) -> None:
        self.settings = settings
        self.service = service
        self.publisher = service.publisher
        self._bound_host = self.publisher.base_url.split("://", 1)[1]

    def base_url(self, request: web.Request) -> str:
        """The configured base URL; else, for a request through a trusted proxy, the URL its
        X-Forwarded-* (or Host) headers name; else the address the service is bound to. A client
        that is not a trusted proxy never chooses the links: a cache in front would serve its
        variant to everyone."""
        if self.settings.base_url or not self.settings.trusted_proxy(request.remote):
            return self.publisher.base_url
        headers = request.headers
        proto = headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower() or request.scheme
        # Not request.host: with no Host header (HTTP/1.0) aiohttp falls back to this machine's
        # name, without the port; the bound address is right then.
        host = headers.get("X-Forwarded-Host", "").split(",")[0].strip() or headers.get("Host", "").strip()
        if proto not in ("http", "https") or not _HOST.match(host):
            return self.publisher.base_url
        return f"{proto}://{host}"

    async def _send(self, request: web.Request, key: Key) -> web.Response:
        rendered = self.publisher.get(key)
        if rendered is None:
            if not self.service.ready:
                return _starting()
            try:
                rendered = await self.publisher.variant(key)
            except Busy as exc:
                return json_error(503, str(exc), **{"Retry-After": "1"})
        return _respond(request, rendered)

    def default_base(self, request: web.Request) -> bool:
        """Whether the request's URLs are those of the pre-rendered bytes (no header parsing needed)."""
        headers = request.headers
        # We serve plain HTTP only (TLS ends at a proxy, which sends X-Forwarded-Proto).
        if headers.get("Host") == self._bound_host and "X-Forwarded-Host" not in headers \
                and "X-Forwarded-Proto" not in headers:
            return True
        return not self.settings.trusted_proxy(request.remote)

    def feed(self, view: View, kind: str | None = None) -> Handler:
        """A view's feed, or (with `kind`) one publication's or author's in that view; `?q=` searches."""
        async def handler(request: web.Request) -> web.StreamResponse:
            limit = _int_param(request, "limit", self.settings.page_size, 1, MAX_LIMIT)
            page = _int_param(request, "page", 1, 1, 999_999)
            topic = None
            if kind is not None:
                slug = request.match_info["slug"]
                if not _SLUG.fullmatch(slug):
                    return json_error(404, "no such publication or author")
                topic = Topic(kind, slug)
            q = request.query.get("q", "").strip() or None
            match = None
            if q is not None:
                try:
                    match = await self.service.match(q)
                except QueryError as exc:
                    return json_error(400, str(exc))
            elif topic is None and page > 1 and (page - 1) * limit >= self.publisher.total(view.lang):
                return json_error(404, f"page {page} is past the last page of {view.path}")
            key = Key(view, limit, page, self.base_url(request), topic, q, match)
            try:
                return await self._send(request, key)
            except UnknownTopic:
                return json_error(404, f"no published digest is from or by {topic.slug if topic else ''!r}")
        return handler

    async def home(self, request: web.Request) -> web.StreamResponse:
        page = _int_param(request, "page", 1, 1, 999_999)
        if page > 1 and (page - 1) * HOME_ENTRIES >= self.publisher.total(BILINGUAL):  # it lists every document
            return json_error(404, f"page {page} is past the last page of /")
        return await self._send(request, Key(HOME, HOME_ENTRIES, page, self.base_url(request)))

    @staticmethod
    def static(rendered: Rendered) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            return _respond(request, rendered)
        return handler

    # -- the newsroom: for editors, behind the editor token or loopback ---------------------

    def _editor(self, request: web.Request) -> bool:
        token = self.settings.editor_token
        if token is None:
            return self.settings.loopback
        sent = request.headers.get("Authorization", "")
        candidate = sent[7:].strip() if sent[:7].lower() == "bearer " else request.cookies.get(EDITOR_COOKIE, "")
        return hmac.compare_digest(candidate.encode(), token.encode())

    def newsroom(self, handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            token = self.settings.editor_token
            opened = request.query.get("token")  # a link an editor opened once
            if token is not None and opened is not None and hmac.compare_digest(opened.encode(), token.encode()):
                # Raised, not returned: aiohttp deprecates returning an HTTPException.
                redirect = web.HTTPSeeOther(request.path)
                redirect.set_cookie(EDITOR_COOKIE, token, httponly=True, samesite="Strict", max_age=30 * 86400,
                                    secure=request.headers.get("X-Forwarded-Proto") == "https")
                raise redirect
            if not self._editor(request):
                how = ("send Authorization: Bearer <FEEDSVC_EDITOR_TOKEN>, or open /status?token=<token> once "
                       "to keep it in a cookie" if token is not None else
                       "set FEEDSVC_EDITOR_TOKEN on the service (it listens beyond loopback), then send "
                       "Authorization: Bearer <token> or open /status?token=<token>")
                return web.Response(status=401, text=f"The newsroom pages need the editor token: {how}.\n",
                                    headers=policy.unauthorized())
            if self._reader() is None:
                return _starting()
            return await handler(request)
        return guarded

    def _status_query(self, request: web.Request) -> Query:
        raw = request.query.get("state") or None
        states = {s.value: s for s in State}
        if raw is not None and raw not in states:
            raise ErrorAnswer(400, f"state must be one of {', '.join(states)}")
        q = request.query.get("q") or None
        if q is not None and len(q) > 200:
            raise ErrorAnswer(400, "q is longer than 200 characters")
        return Query(state=states[raw] if raw else None, q=q, page=_int_param(request, "page", 1, 1, 999_999),
                     limit=_int_param(request, "limit", NEWSROOM_PAGE_SIZE, 1, MAX_LIMIT))

    def _reader(self) -> Reader | None:
        """The index's read facade, the only way this layer reads the index (its methods on the
        worker thread); None until the first scan has opened the index."""
        index = self.service.index
        return index.reader if index is not None else None

    def _opened(self) -> Reader:
        """The read facade behind the newsroom guard, which answered 503 while there is none."""
        reader = self._reader()
        assert reader is not None
        return reader

    async def _status_data(self, request: web.Request) -> dict[str, Any]:
        return await self.service.worker.run(status, self._opened(), self._status_query(request),
                                             self.base_url(request))

    async def status_json(self, request: web.Request) -> web.StreamResponse:
        body = json.dumps(await self._status_data(request), ensure_ascii=False).encode()
        return _private(request, body, policy.JSON)

    async def status_page(self, request: web.Request) -> web.StreamResponse:
        query = self._status_query(request)
        data = await self._status_data(request)
        body = status_page(self.publisher.meta, data, query.state.value if query.state else None, query.q)
        return _private(request, body, "text/html; charset=utf-8")

    async def preview(self, request: web.Request) -> web.StreamResponse:
        found = await self.service.worker.run(preview, self._opened(), request.match_info["id"])
        if found is None:
            return json_error(404, "no file has this id")
        shown_as = found if isinstance(found, tuple) else (found.path, found.entry, found.warned)
        body = preview_page(self.publisher.meta, shown_as, self.base_url(request))
        return _private(request, body, "text/html; charset=utf-8")

    # -- finding feeds: OPML, publications and authors, search ------------------------------

    async def _directory(self) -> tuple[list[TopicRow], list[TopicRow]]:
        reader = self._reader()
        if reader is None:
            raise ErrorAnswer(503, _STARTING, **{"Retry-After": "1"})
        return await self.service.worker.run(reader.directory)

    async def opml(self, request: web.Request) -> web.StreamResponse:
        publications, _ = await self._directory()
        body = opml(self.publisher.meta, publications, self.base_url(request))
        return _computed(request, body, "text/x-opml; charset=utf-8", policy.feed(self.settings))

    async def topics(self, request: web.Request) -> web.StreamResponse:
        publications, authors = await self._directory()
        body = topics_page(self.publisher.meta, publications, authors, self.base_url(request))
        return _computed(request, body, "text/html; charset=utf-8", policy.page(self.settings))

    async def search(self, request: web.Request) -> web.StreamResponse:
        q = request.query.get("q", "").strip() or None
        found = Found((), {})  # counts per view language
        reader = self._reader()
        if q is not None and reader is not None:
            try:
                match = await self.service.match(q)
            except QueryError as exc:
                return json_error(400, str(exc))
            found = await self.service.worker.run(reader.search, match, HOME_ENTRIES)
        body = search_page(self.publisher.meta, q, list(found.entries), found.counts, self.base_url(request))
        return _computed(request, body, "text/html; charset=utf-8", policy.page(self.settings))

    async def opensearch(self, request: web.Request) -> web.StreamResponse:
        body = opensearch(self.publisher.meta, self.base_url(request))
        return _computed(request, body, "application/opensearchdescription+xml; charset=utf-8",
                         policy.feed(self.settings))

    async def healthz(self, request: web.Request) -> web.StreamResponse:
        """Public, for monitors: the same keys for everyone, but file names, paths and rejection
        texts only for editors (the rule of the newsroom pages), general words for anyone else."""
        health = self.service.health()
        editor = self._editor(request)
        body = {
            "status": health.status,
            "documents": health.documents,
            # The first few, so that 20,000 rejected files do not make a 1 MB health check.
            "rejected": [{"path": shown(path), "reason": str(reason), "kind": reason.kind.value, "line": reason.line}
                         for path, reason in health.rejected[:HEALTH_REJECTED]] if editor else [],
            "rejected_total": len(health.rejected),
            "last_change": health.last_change.isoformat() if health.last_change else None,
            "watcher": "alive" if health.watcher_alive else "dead",
            # Two problems of one concern read the same in general words: said once.
            "problems": [p.text for p in health.problems] if editor else
                        list(dict.fromkeys(p.summary for p in health.problems)),
            "index": health.index if editor else _index_kind(health.index),
            "detail": editor,
        }
        ok = health.ready and health.serving_ok
        # What it says depends on who asks; no-store already keeps it out of caches.
        headers = {**policy.momentary(policy.JSON), "Vary": "Authorization, Cookie"}
        if not ok:
            headers["Retry-After"] = "5"
        return web.Response(status=200 if ok else 503, headers=headers,
                            body=json.dumps(body, ensure_ascii=False).encode())

    async def metrics(self, request: web.Request) -> web.StreamResponse:
        metrics = request.app[METRICS]
        return web.Response(body=metrics.exposition(),
                            headers=policy.momentary(metrics.content_type))


def _index_kind(location: str) -> str:
    """The index's location without its path: "file", ":memory:" (running from memory), or ""
    before it is open."""
    return location if location in ("", ":memory:") else "file"


def _route(routes: Routes, metrics: Metrics | None, path: str, handler: Handler, *,
           prerendered: str | None = None) -> Handler:
    """The handler aiohttp calls for `path`: the bytes pre-rendered for `prerendered` if they fit the
    request, else `handler`; counted and timed when metrics are on.

    One coroutine per request, not a wrapper awaiting another: on the path almost every poll takes,
    that layer cost a few percent of throughput.
    """
    observe = metrics.requests.recorder(path) if metrics is not None else None
    clock = time.perf_counter
    current = routes.publisher.shelf.default
    # With FEEDSVC_BASE_URL set, or no proxy trusted, every request's URLs are those of the
    # pre-rendered bytes.
    settings = routes.settings
    default_base = None if settings.base_url or not settings.trusted_proxies else routes.default_base

    async def route(request: web.Request) -> web.StreamResponse:
        started = clock()
        response: web.StreamResponse | None = None
        # The path almost every poll takes: no query, the default base URL, bytes at hand.
        if prerendered is not None and not request.query_string and \
                (default_base is None or default_base(request)):
            rendered = current(prerendered)
            if rendered is not None:
                response = _respond(request, rendered)
        if response is None:
            try:
                response = await handler(request)
            except ErrorAnswer as answer:
                response = answer.response()
            except web.HTTPException as exc:
                if observe is not None:
                    observe(exc.status, clock() - started)
                raise
        if observe is not None:
            observe(response.status, clock() - started)
        return response
    return route


def _computed(request: web.Request, body: bytes, media_type: str, extra: dict[str, str]) -> web.Response:
    """An answer made for this request (not kept on the shelf), with an ETag so a poll of an
    unchanged one is a 304."""
    tag = tag_of(body)
    headers = {**extra, "Content-Type": media_type, "ETag": f'"{tag}"'}
    if fresh(request, (tag,)):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, headers=headers)


def _private(request: web.Request, body: bytes, media_type: str) -> web.Response:
    """A newsroom answer: revalidated on every poll."""
    return _computed(request, body, media_type, policy.newsroom())


async def _preflight(request: web.Request) -> web.StreamResponse:
    """CORS preflight: browser code may poll with its own validators (If-None-Match and the like)."""
    return web.Response(status=204, headers=policy.preflight())


# Icons: the feeds point at them, and browsers, Liferea and Miniflux ask for /favicon.ico.
_STATIC = {FAVICON_ICO: ("favicon.ico", "image/x-icon"), ICON: ("icon.png", "image/png"),
           FAVICON: ("favicon.png", "image/png"), LOGO: ("logo.png", "image/png"),
           "/status.js": ("status.js", "text/javascript; charset=utf-8")}


def _static(settings: Settings) -> dict[str, Rendered]:
    folder = resources.files("feedsvc") / "static"
    # The files' own date: a fixed Last-Modified, the same in every replica of one release.
    updated = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    return {path: Rendered.build((folder / name).read_bytes(), media_type, updated, policy.static())
            for path, (name, media_type) in _STATIC.items()}


def create_app(settings: Settings, *, service: Service | None = None,
               metrics: Metrics | None = None) -> web.Application:
    """The application; the service starts and stops with it."""
    metrics = metrics or Metrics()
    service = service or Service(settings, metrics)
    app = web.Application(client_max_size=1024)
    app[SERVICE] = service
    app[METRICS] = metrics
    # Where a guarded site reports whether its check of aiohttp passed (connections.GuardedSite).
    app[PROTECTION] = service.protection
    metrics.connection_guard.set_function(lambda: float(service.protection.on))
    routes = Routes(settings, service)

    def add(path: str, handler: Handler, *, prerendered: str | None = None) -> None:
        app.router.add_get(path, _route(routes, metrics if settings.metrics else None, path, handler,
                                        prerendered=prerendered))
        app.router.add_route("OPTIONS", path, _preflight)

    for view in VIEWS:
        add(view.path, routes.feed(view), prerendered=view.path)
        for kind in (PUBLICATION, AUTHOR):
            add(feed_path(view, Topic(kind, "{slug}")), routes.feed(view, kind))
    add("/", routes.home, prerendered="/")
    add("/index.html", routes.home, prerendered="/")
    for path, rendered in _static(settings).items():
        add(path, routes.static(rendered))
    add("/feeds.opml", routes.opml)
    add("/topics", routes.topics)
    add("/search", routes.search)
    add("/opensearch.xml", routes.opensearch)
    add("/status", routes.newsroom(routes.status_page))
    add("/status.json", routes.newsroom(routes.status_json))
    add(r"/preview/{id:[\s\S]+}", routes.newsroom(routes.preview))  # ids may hold any character
    add("/healthz", routes.healthz)
    if settings.websub:
        app.router.add_post(websub.PATH, service.hub.handle)
    if settings.metrics:
        add("/metrics", routes.metrics)
    # No catch-all route for a JSON 404: it cost 3-5% of throughput on every request, and
    # aiohttp's own 404 for unknown paths says nothing more than it should.

    async def lifecycle(app: web.Application):  # type: ignore[no-untyped-def]
        await service.start()
        yield
        await service.stop()

    app.cleanup_ctx.append(lifecycle)
    assert {v.lang for v in VIEWS} == set(VIEW_LANGS)
    return app
