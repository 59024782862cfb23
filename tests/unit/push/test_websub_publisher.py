"""The publisher side: the Link header and JSON Feed hubs helpers, and the Pinger's requests,
retries and failure log line, against a recording stand-in hub on loopback."""

from __future__ import annotations

import logging
import socket
from collections import deque
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from helpers.websub import (
    ATOM,
    JSON_FEED,
    hub_settings,
    loopback_only_fixture,  # noqa: F401  (autouse: nothing leaves loopback)
)

from feedsvc.ops.metrics import Metrics
from feedsvc.push.websub import FeedChange, Hub, Limits, Pinger, hub_url, json_hubs, link_header
from feedsvc.push.websub.stats import hub_metrics
from feedsvc.settings import Settings


def test_link_header_embedded_and_external_hubs(tmp_path: Path) -> None:
    settings = hub_settings(tmp_path, websub_hubs="https://pubsubhubbub.appspot.com/,https://websub.example/hub")
    assert link_header(settings, ATOM) == (
        '<http://feeds.test/websub>; rel="hub", <https://pubsubhubbub.appspot.com/>; rel="hub", '
        '<https://websub.example/hub>; rel="hub", <http://feeds.test/feed.atom>; rel="self"')
    assert json_hubs(settings, JSON_FEED)[0] == {"type": "WebSub", "url": "http://feeds.test/websub"}
    assert len(json_hubs(settings, JSON_FEED)) == 3


def test_link_header_without_the_embedded_hub(tmp_path: Path) -> None:
    assert link_header(hub_settings(tmp_path, websub="false"), ATOM) == ""
    settings = hub_settings(tmp_path, websub="false", websub_hubs="https://hub.example/")
    assert link_header(settings, ATOM) == f'<https://hub.example/>; rel="hub", <{ATOM}>; rel="self"'
    assert json_hubs(settings, ATOM) == [{"type": "WebSub", "url": "https://hub.example/"}]


def test_hub_url_follows_the_feed_without_a_base_url(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    settings = Settings.build({"seeds": str(seeds), "state_dir": str(tmp_path / "s")}, env={})
    assert hub_url(settings, "https://proxy.example:8443/en/feed.rss") == "https://proxy.example:8443/websub"
    with_base = hub_settings(tmp_path, base_url="https://example.org/feeds/")
    assert hub_url(with_base, "https://example.org/feeds/feed.atom") == "https://example.org/feeds/websub"


class StandInHub:
    """Records publish pings; answers them with the statuses queued, then 204."""

    def __init__(self) -> None:
        self.forms: list[dict[str, str]] = []
        self.statuses: deque[int] = deque()
        self.app = web.Application()
        self.app.router.add_post("/hub", self.ping)

    async def ping(self, request: web.Request) -> web.Response:
        self.forms.append(dict(await request.post()))  # type: ignore[arg-type]
        return web.Response(status=self.statuses.popleft() if self.statuses else 204)


@pytest.fixture
async def stand_in(aiohttp_server: Any) -> tuple[StandInHub, str]:
    hub = StandInHub()
    server = await aiohttp_server(hub.app)
    return hub, str(server.make_url("/hub"))


async def test_pings_carry_hub_url_and_hub_topic(stand_in: tuple[StandInHub, str]) -> None:
    hub, url = stand_in
    pinger = Pinger([url], Limits(), hub_metrics(Metrics()))
    pinger.ping([ATOM])  # before start: sent at start
    await pinger.start()
    pinger.ping([JSON_FEED])
    await pinger.idle()
    await pinger.stop()
    assert sorted(f["hub.topic"] for f in hub.forms) == [ATOM, JSON_FEED]
    for form in hub.forms:
        assert form["hub.mode"] == "publish" and form["hub.url"] == form["hub.topic"]


async def test_pings_are_retried_then_logged(stand_in: tuple[StandInHub, str], caplog: pytest.LogCaptureFixture) -> None:
    hub, url = stand_in
    metrics = Metrics()
    pinger = Pinger([url], Limits(ping_attempts=3, ping_backoff_base=0.01), hub_metrics(metrics))
    await pinger.start()
    hub.statuses.extend([500, 503])
    pinger.ping([ATOM])
    await pinger.idle()
    assert len(hub.forms) == 3  # two failures, then the 204
    hub.statuses.extend([500, 500, 500])
    with caplog.at_level(logging.WARNING, logger="feedsvc.websub"):
        pinger.ping([ATOM])
        await pinger.idle()
    await pinger.stop()
    assert len(hub.forms) == 6
    (record,) = caplog.records
    assert "gave up pinging hub" in record.getMessage() and "HTTP 500" in record.getMessage()
    sample = metrics.registry.get_sample_value
    assert sample("feedsvc_websub_pings_total", {"outcome": "ok"}) == 1
    assert sample("feedsvc_websub_pings_total", {"outcome": "failed"}) == 5
    assert sample("feedsvc_websub_pings_total", {"outcome": "gave_up"}) == 1


async def test_an_unreachable_hub_is_a_logged_failure(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    pinger = Pinger([f"http://127.0.0.1:{port}/hub"], Limits(ping_attempts=2, ping_backoff_base=0.01),
                    hub_metrics(Metrics()))
    await pinger.start()
    with caplog.at_level(logging.WARNING, logger="feedsvc.websub"):
        pinger.ping([ATOM])
        await pinger.idle()
    await pinger.stop()
    assert "gave up pinging hub" in caplog.text


async def test_hub_publish_pings_every_changed_topic(tmp_path: Path, stand_in: tuple[StandInHub, str]) -> None:
    stand, url = stand_in
    hub = Hub(hub_settings(tmp_path, websub_hubs=url, websub_allow_callbacks="127.0.0.0/8"), Metrics(),
              topics=lambda _: True)
    await hub.start()
    hub.publish([FeedChange(ATOM, "application/atom+xml; charset=utf-8", b"<feed/>"),
                 FeedChange(JSON_FEED, "application/feed+json; charset=utf-8", b"{}")])
    await hub.idle()
    await hub.stop()
    assert sorted(f["hub.url"] for f in stand.forms) == [ATOM, JSON_FEED]
