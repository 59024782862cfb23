"""WebSub through the running service: discovery from a feed, a loopback subscriber, a push within
a second of a digest being written, signed, holding the new entry."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from helpers import make_doc, poll_until, write
from helpers.feeds import FEEDS, ids, metric, parse


class Subscriber(http.server.ThreadingHTTPServer):
    """A callback on loopback: answers verification with the challenge, keeps every push."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Callback)
        self.pushes: list[tuple[float, dict[str, str], bytes]] = []
        self.verified: list[dict[str, str]] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/callback?id=reader-1"


class _Callback(http.server.BaseHTTPRequestHandler):
    server: Subscriber

    def do_GET(self) -> None:
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        self.server.verified.append(query)
        body = query.get("hub.challenge", "").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.pushes.append((time.monotonic(), dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass



def test_every_feed_advertises_the_hub_and_itself(seeds: Path, state: Path, server_factory: Any) -> None:
    write(seeds, "a.txt", make_doc(1))
    server = server_factory(seeds, state, "--base-url", "http://127.0.0.1:8080")
    for path in FEEDS:
        bodies = {}
        for method in ("HEAD", "GET"):  # websub.rocks' discovery tries HEAD first
            request = urllib.request.Request(server.url + path, method=method)
            with urllib.request.urlopen(request) as response:
                link = response.headers["Link"]
                bodies[method] = response.read()
            assert link == f'<http://127.0.0.1:8080/websub>; rel="hub", <http://127.0.0.1:8080{path}>; rel="self"'
        body = bodies["GET"]
        if path.endswith(".json"):
            assert b'"hubs":[{"type":"WebSub","url":"http://127.0.0.1:8080/websub"}]' in body
        else:
            links = {(ln.rel, ln.href) for ln in parse(body).feed.links}
            assert ("hub", "http://127.0.0.1:8080/websub") in links and ("self", f"http://127.0.0.1:8080{path}") in links


def test_a_subscriber_is_pushed_a_new_digest_within_a_second(seeds: Path, state: Path, server_factory: Any) -> None:
    write(seeds, "a.txt", make_doc(1))
    subscriber = Subscriber()
    server = server_factory(seeds, state, "--base-url", "http://127.0.0.1:8080",
                            "--websub-allow-callbacks", "127.0.0.0/8")
    try:
        topic = "http://127.0.0.1:8080/uk/feed.atom"
        form = urllib.parse.urlencode({"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": subscriber.url,
                                       "hub.secret": "shared-secret", "hub.lease_seconds": "86400"}).encode()
        with urllib.request.urlopen(urllib.request.Request(server.url + "/websub", data=form)) as response:
            assert response.status == 202
        poll_until(lambda: subscriber.verified, "the verification of intent")
        assert subscriber.verified[0]["hub.topic"] == topic and subscriber.verified[0]["id"] == "reader-1"
        # The subscription is stored once verified: the hub's gauge counts the stored ones.
        poll_until(lambda: metric(server.get("/metrics")[2].decode(), "feedsvc_websub_subscriptions") == 1,
                   "the subscription to be stored")
        write(seeds, "late.txt", make_doc(2, uk="Свіжий огляд для підписників"))
        written = time.monotonic()
        poll_until(lambda: subscriber.pushes, "the push")
        at, headers, body = subscriber.pushes[0]
        assert at - written < 1.0, f"pushed {at - written:.3f} s after the file was written"
        assert headers["Content-Type"] == "application/atom+xml; charset=utf-8"
        expected = hmac.new(b"shared-secret", body, hashlib.sha256).hexdigest()
        assert headers["X-Hub-Signature"] == f"sha256={expected}"
        assert f'<{topic}>; rel="self"' in headers["Link"]
        pushed = parse(body)
        assert ids(body) == {"late"}, "the push holds the new entry, not the whole feed"
        assert pushed.entries[0].title == "Свіжий огляд для підписників"
    finally:
        subscriber.shutdown()


def test_only_our_own_feeds_are_topics_and_private_callbacks_are_refused(seeds: Path, state: Path,
                                                                        server_factory: Any) -> None:
    write(seeds, "a.txt", make_doc(1))
    server = server_factory(seeds, state, "--base-url", "http://127.0.0.1:8080")  # default: deny private

    def subscribe(topic: str, callback: str) -> tuple[int, str]:
        form = urllib.parse.urlencode({"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": callback}).encode()
        try:
            with urllib.request.urlopen(urllib.request.Request(server.url + "/websub", data=form)) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    status, reason = subscribe("https://elsewhere.example/feed", "http://127.0.0.1:9/cb")
    assert 400 <= status < 500 and reason
    status, reason = subscribe("http://127.0.0.1:8080/feed.atom", "http://127.0.0.1:9/cb")
    assert 400 <= status < 500 and reason, "a loopback callback is refused under the default settings"
