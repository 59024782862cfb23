"""An independent implementation on both sides: Flask-WebSub 0.4.1 (PyPI), nobody here wrote it.

* Its subscriber discovers the hub from a feed's Link header, subscribes to the embedded hub,
  answers the verification and receives a change; over HTTPS it picks a secret and checks the
  signature itself (its listener is only called for a valid one); then it unsubscribes.
* Its hub is an external hub (FEEDSVC_WEBSUB_HUBS) that the Pinger pings: it fetches the topic from
  the feed and distributes it to its own subscriber.

Everything runs on 127.0.0.1: our hub and feeds in an aiohttp site, the Flask apps under
werkzeug's threaded server, each in a thread.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import trustme
from aiohttp import web
from flask import Flask
from flask_websub.hub import Hub as FlaskHub
from flask_websub.hub import SQLite3HubStorage
from flask_websub.subscriber import SQLite3SubscriberStorage, SQLite3TempSubscriberStorage, discover
from flask_websub.subscriber import Subscriber as FlaskSubscriber
from helpers import poll_until_async
from helpers.websub import (
    FAST,
    Subscriber,
    hub_settings,
    loopback_only_fixture,  # noqa: F401  (autouse: nothing leaves loopback)
    subscriber_fixture,  # noqa: F401
)
from werkzeug.serving import make_server

from feedsvc.feeds import VIEWS
from feedsvc.ops.metrics import Metrics
from feedsvc.push.websub import FeedChange, Hub

ATOM_BODY = b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><id>t</id></feed>'


async def until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    await poll_until_async(check, what, timeout, interval=0.01)


@pytest.fixture
def wsgi() -> Iterator[Callable[[Flask], int]]:
    """Serve a Flask app on a loopback port in a thread; the port."""
    servers: list[tuple[Any, threading.Thread]] = []

    def serve(app: Flask) -> int:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return int(server.server_port)

    yield serve
    for server, thread in servers:
        server.shutdown()
        thread.join(5)


@dataclass
class Site:
    """feedsvc's side: the embedded hub at /websub and the nine feeds, with their Link headers."""

    hub: Hub
    base: str
    metrics: Metrics

    def topic(self, path: str = "/feed.atom") -> str:
        return self.base + path


@asynccontextmanager
async def feedsvc_site(tmp_path: Path, *, tls: ssl.SSLContext | None = None, **overrides: Any) -> AsyncIterator[Site]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"{'https' if tls else 'http'}://127.0.0.1:{sock.getsockname()[1]}"
    settings = hub_settings(tmp_path, base_url=base, websub_allow_callbacks="127.0.0.0/8", **overrides)
    media = {base + view.path: view.media_type for view in VIEWS}
    metrics = Metrics()
    hub = Hub(settings, metrics, topics=media.__contains__, limits=FAST)
    app = web.Application()
    app.router.add_post("/websub", hub.handle)

    async def feed(request: web.Request) -> web.Response:
        self_url = base + request.path
        headers = {"Content-Type": media[self_url]}
        if link := hub.links(self_url):
            headers["Link"] = link
        return web.Response(body=ATOM_BODY, headers=headers)

    for view in VIEWS:
        app.router.add_get(view.path, feed)

    async def lifecycle(app: web.Application) -> Any:
        await hub.start()
        yield
        await hub.stop()

    app.cleanup_ctx.append(lifecycle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, sock, ssl_context=tls).start()
    try:
        yield Site(hub, base, metrics)
    finally:
        await runner.cleanup()


class FlaskWebSubSubscriber:
    """Flask-WebSub's subscriber in its own Flask app, recording its three kinds of events."""

    def __init__(self, tmp_path: Path, wsgi: Callable[[Flask], int]) -> None:
        self.app = Flask("flask_websub_subscriber")
        db = str(tmp_path / "flask-subscriber.sqlite3")
        self.subscriber = FlaskSubscriber(SQLite3SubscriberStorage(db), SQLite3TempSubscriberStorage(db))
        self.app.register_blueprint(self.subscriber.build_blueprint(url_prefix="/callbacks"))
        self.notifications: list[tuple[str, bytes]] = []
        self.successes: list[tuple[str, str]] = []
        self.errors: list[tuple[str, str]] = []
        self.subscriber.add_listener(lambda topic, _id, body: self.notifications.append((topic, body)))
        self.subscriber.add_success_handler(lambda topic, _id, mode: self.successes.append((topic, mode)))
        self.subscriber.add_error_handler(lambda topic, _id, reason: self.errors.append((topic, reason)))
        port = wsgi(self.app)
        self.app.config["SERVER_NAME"] = f"127.0.0.1:{port}"

    def subscribe(self, **request: Any) -> str:
        with self.app.app_context():
            return str(self.subscriber.subscribe(**request))

    def unsubscribe(self, callback_id: str) -> None:
        with self.app.app_context():
            self.subscriber.unsubscribe(callback_id)


async def test_flask_websub_subscriber_gets_a_change(tmp_path: Path, wsgi: Callable[[Flask], int]) -> None:
    reader = FlaskWebSubSubscriber(tmp_path, wsgi)
    async with feedsvc_site(tmp_path) as site:
        found = await asyncio.to_thread(discover, site.topic())
        assert found == {"hub_url": site.base + "/websub", "topic_url": site.topic()}
        callback_id = await asyncio.to_thread(reader.subscribe, **found, lease_seconds=7200)
        await until(lambda: bool(reader.successes), "Flask-WebSub's verification answer")
        assert reader.successes == [(site.topic(), "subscribe")]
        await site.hub.idle()

        site.hub.publish([FeedChange(site.topic(), VIEWS[0].media_type, b"<feed>full</feed>", ATOM_BODY)])
        await until(lambda: bool(reader.notifications), "the notification")
        assert reader.notifications == [(site.topic(), ATOM_BODY)]

        await asyncio.to_thread(reader.unsubscribe, callback_id)
        await until(lambda: len(reader.successes) == 2, "the unsubscribe verification")
        assert reader.successes[1] == (site.topic(), "unsubscribe")
        await site.hub.idle()
        assert await site.hub.subscriptions() == []
        site.hub.publish([FeedChange(site.topic(), VIEWS[0].media_type, b"<feed>later</feed>")])
        await site.hub.idle()
        await asyncio.sleep(0.05)
        assert len(reader.notifications) == 1
        assert reader.errors == []


async def test_flask_websub_subscriber_checks_our_signature(tmp_path: Path, wsgi: Callable[[Flask], int],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Over HTTPS Flask-WebSub sends a secret of its own, and calls its listener only for a
    notification whose X-Hub-Signature it verified."""
    ca = trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(tls)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    reader = FlaskWebSubSubscriber(tmp_path, wsgi)
    async with feedsvc_site(tmp_path, tls=tls) as site:
        found = await asyncio.to_thread(discover, site.topic("/en/feed.json"))
        assert found["hub_url"].startswith("https://")
        await asyncio.to_thread(reader.subscribe, **found)
        await until(lambda: bool(reader.successes), "Flask-WebSub's verification answer")
        await site.hub.idle()
        (subscription,) = await site.hub.subscriptions()
        assert subscription.secret  # Flask-WebSub chose one
        body = b'{"version": "https://jsonfeed.org/version/1.1", "items": []}'
        site.hub.publish([FeedChange(site.topic("/en/feed.json"), "application/feed+json; charset=utf-8", body)])
        await until(lambda: bool(reader.notifications), "the signed notification, accepted")
        assert reader.notifications == [(site.topic("/en/feed.json"), body)]


# -- Flask-WebSub's hub as an external hub -------------------------------------------------------

class EagerCelery:
    """Flask-WebSub's hub queues its work as Celery tasks; this runs each at once in the calling
    thread, as Celery's task_always_eager does. (Celery itself pins python-dateutil==2.9.0.post0,
    which would downgrade the project's dateutil; the hub's own code is what is under test.)"""

    def task(self, bind: bool = False, max_retries: int | None = None, **_: Any) -> Callable[..., Any]:
        def decorate(fn: Callable[..., Any]) -> EagerTask:
            return EagerTask(fn, bind, max_retries or 0)
        return decorate

    def add_periodic_task(self, *args: Any, **kwargs: Any) -> None:
        pass


class _Retry(Exception):
    pass


class EagerTask:
    def __init__(self, fn: Callable[..., Any], bind: bool, max_retries: int) -> None:
        self.fn, self.bind, self.max_retries = fn, bind, max_retries

    def delay(self, *args: Any, **kwargs: Any) -> Any:
        if not self.bind:
            return self.fn(*args, **kwargs)
        context = SimpleNamespace(request=SimpleNamespace(retries=0))

        def retry(countdown: float = 0.0, **_: Any) -> None:
            time.sleep(min(countdown, 0.05))
            raise _Retry()

        context.retry = retry
        while True:
            try:
                return self.fn(context, *args, **kwargs)
            except _Retry:
                if context.request.retries >= self.max_retries:
                    return None
                context.request.retries += 1


async def test_pinger_pings_flask_websub_hub(tmp_path: Path, wsgi: Callable[[Flask], int], aiohttp_client: Any,
                                             subscriber: Subscriber) -> None:
    app = Flask("flask_websub_hub")
    app.config["PUBLISH_SUPPORTED"] = True
    external = FlaskHub(SQLite3HubStorage(str(tmp_path / "flask-hub.sqlite3")), EagerCelery(), BACKOFF_BASE=0.01,
                        MAX_ATTEMPTS=2)
    app.register_blueprint(external.build_blueprint(url_prefix="/hub"))
    hub_url = f"http://127.0.0.1:{wsgi(app)}/hub"

    async with feedsvc_site(tmp_path, websub="false", websub_hubs=hub_url) as site:
        topic = site.topic("/uk/feed.rss")
        assert site.hub.links(topic) == f'<{hub_url}>; rel="hub", <{topic}>; rel="self"'
        # A subscriber of the external hub (our loopback recorder), verified by Flask-WebSub's hub.
        client = await aiohttp_client(web.Application())
        async with client.session.post(hub_url, data={"hub.mode": "subscribe", "hub.topic": topic,
                                                      "hub.callback": subscriber.url("ext")}) as response:
            assert response.status == 202
        assert subscriber.verified("ext") and subscriber.verified("ext")[0].query["hub.topic"] == topic

        site.hub.publish([FeedChange(topic, "application/rss+xml; charset=utf-8", b"ignored: the hub fetches the topic")])
        await site.hub.idle()
        await until(lambda: bool(subscriber.delivered("ext")), "Flask-WebSub's hub's delivery")
        (delivery,) = subscriber.delivered("ext")
        assert delivery.body == ATOM_BODY  # what the topic URL serves
        assert f'<{topic}>; rel="self"' in delivery.headers["Link"]
        assert site.metrics.registry.get_sample_value("feedsvc_websub_pings_total", {"outcome": "ok"}) == 1
