"""The embedded hub against a loopback subscriber: websub.rocks' hub tests 100-106 reimplemented,
then verification failures, delivery failures, leases, caps, and restarts."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections import deque
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from helpers.websub import (
    ATOM,
    FAST,
    HUB,
    JSON_FEED,
    RSS,
    TEXT,
    TOPICS,
    Clock,
    FakeResolver,
    Running,
    Subscriber,
    hub_settings,
    loopback_only_fixture,  # noqa: F401  (autouse: nothing leaves loopback)
    start_hub,
    subscriber_fixture,  # noqa: F401
)

from feedsvc.ops.metrics import Metrics
from feedsvc.push.websub import Hub, Limits, Mode
from feedsvc.push.websub.store import Store

ATOM_FULL = b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><entry/><entry/></feed>'
ATOM_FRESH = b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><entry/></feed>'


@pytest.fixture
async def hub(aiohttp_client: Any, tmp_path: Path) -> Running:
    return await start_hub(aiohttp_client, tmp_path)


async def subscribed(hub: Running, sub: Subscriber, name: str, topic: str = ATOM, **extra: str) -> None:
    """Subscribe callback `name` and wait until the hub has it."""
    before = len(sub.verified(name))
    assert await hub.subscribe(sub.url(name), topic, **extra) == 202
    await sub.wait(lambda: len(sub.verified(name)) > before, "verification")
    await hub.hub.idle()


def check_delivery(sub: Subscriber, name: str, topic: str, body: bytes) -> dict[str, str]:
    """What websub.rocks checks of each delivery."""
    (delivery,) = sub.delivered(name)
    assert delivery.body == body
    assert delivery.headers["Content-Type"] == TOPICS[topic]
    link = delivery.headers["Link"]
    assert f'<{HUB}>; rel="hub"' in link
    assert link.count('rel="self"') == 1 and f'<{topic}>; rel="self"' in link
    return delivery.headers


# -- websub.rocks 100-106 ----------------------------------------------------------------------

async def test_100_plain_subscribe(hub: Running, subscriber: Subscriber) -> None:
    await subscribed(hub, subscriber, "a")
    (verification,) = subscriber.verified("a")
    assert verification.query["hub.mode"] == "subscribe"
    assert verification.query["hub.topic"] == ATOM
    assert len(verification.query["hub.challenge"]) >= 32
    assert verification.query["hub.lease_seconds"] == str(10 * 24 * 3600)
    hub.publish(ATOM, ATOM_FULL, ATOM_FRESH)
    await subscriber.wait(lambda: bool(subscriber.delivered("a")), "delivery")
    headers = check_delivery(subscriber, "a", ATOM, ATOM_FRESH)
    assert "X-Hub-Signature" not in headers
    assert hub.sample("feedsvc_websub_deliveries_total", outcome="delivered") == 1
    assert hub.sample("feedsvc_websub_delivery_seconds_count") == 1
    assert hub.sample("feedsvc_websub_verifications_total", mode="subscribe", outcome="verified") == 1


async def test_101_subscribe_with_a_secret(hub: Running, subscriber: Subscriber) -> None:
    secret = "01234567890123456789"
    await subscribed(hub, subscriber, "a", **{"hub.secret": secret})
    hub.publish(ATOM, ATOM_FULL, ATOM_FRESH)
    await subscriber.wait(lambda: bool(subscriber.delivered("a")), "delivery")
    headers = check_delivery(subscriber, "a", ATOM, ATOM_FRESH)
    expected = hmac.new(secret.encode(), ATOM_FRESH, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature"] == f"sha256={expected}"


async def test_102_extra_parameters_are_ignored(hub: Running, subscriber: Subscriber) -> None:
    await subscribed(hub, subscriber, "a", foo="bar", **{"hub.foo": "hub.bar"})
    hub.publish(ATOM, ATOM_FULL, ATOM_FRESH)
    await subscriber.wait(lambda: bool(subscriber.delivered("a")), "delivery")
    check_delivery(subscriber, "a", ATOM, ATOM_FRESH)


async def test_103_resubscription_gives_one_notification_per_change(hub: Running, subscriber: Subscriber) -> None:
    await subscribed(hub, subscriber, "a", **{"hub.lease_seconds": "7200"})
    await subscribed(hub, subscriber, "a", **{"hub.lease_seconds": "86400"})
    assert len(subscriber.verified("a")) == 2
    assert await hub.live() == 1
    hub.publish(ATOM, ATOM_FULL, ATOM_FRESH)
    await subscriber.wait(lambda: bool(subscriber.delivered("a")), "delivery")
    await hub.hub.idle()
    await asyncio.sleep(0.05)
    check_delivery(subscriber, "a", ATOM, ATOM_FRESH)  # exactly one


async def test_104_unsubscribe(hub: Running, subscriber: Subscriber) -> None:
    await subscribed(hub, subscriber, "a")
    assert await hub.unsubscribe(subscriber.url("a")) == 202
    await subscriber.wait(lambda: len(subscriber.verified("a")) == 2, "unsubscribe verification")
    await hub.hub.idle()
    verification = subscriber.verified("a")[1]
    assert verification.query["hub.mode"] == "unsubscribe" and verification.query["hub.topic"] == ATOM
    assert await hub.live() == 0
    hub.publish(ATOM, ATOM_FULL, ATOM_FRESH)
    await hub.hub.idle()
    await asyncio.sleep(0.05)
    assert subscriber.deliveries == []


async def test_105_text_topic(hub: Running, subscriber: Subscriber) -> None:
    await subscribed(hub, subscriber, "a", TEXT)
    hub.publish(TEXT, "Новини тижня\n".encode())
    await subscriber.wait(lambda: bool(subscriber.delivered("a")), "delivery")
    check_delivery(subscriber, "a", TEXT, "Новини тижня\n".encode())


async def test_106_json_topic(hub: Running, subscriber: Subscriber) -> None:
    full = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "1"}, {"id": "2"}]}).encode()
    fresh = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "2"}]}).encode()
    await subscribed(hub, subscriber, "a", JSON_FEED)
    hub.publish(JSON_FEED, full, fresh)
    await subscriber.wait(lambda: bool(subscriber.delivered("a")), "delivery")
    check_delivery(subscriber, "a", JSON_FEED, fresh)


# -- subscription requests ---------------------------------------------------------------------

@pytest.mark.parametrize(("form", "status", "reason"), [
    ({"hub.topic": ATOM, "hub.callback": "CB"}, 400, "hub.mode is required"),
    ({"hub.mode": "subscribe", "hub.callback": "CB"}, 400, "hub.topic is required"),
    ({"hub.mode": "subscribe", "hub.topic": ATOM}, 400, "hub.callback is required"),
    ({"hub.mode": "publish", "hub.topic": ATOM, "hub.url": ATOM}, 400, "publish is not accepted"),
    ({"hub.mode": "follow", "hub.topic": ATOM, "hub.callback": "CB"}, 400, "subscribe or unsubscribe"),
    ({"hub.mode": "subscribe", "hub.topic": "https://example.org/feed", "hub.callback": "CB"}, 400, "not a feed"),
    ({"hub.mode": "subscribe", "hub.topic": ATOM, "hub.callback": "ftp://127.0.0.1/x"}, 400, "http or https"),
    ({"hub.mode": "subscribe", "hub.topic": ATOM, "hub.callback": "http://u:p@127.0.0.1:8/"}, 400, "user name"),
    ({"hub.mode": "subscribe", "hub.topic": ATOM, "hub.callback": "CB", "hub.lease_seconds": "ten"}, 400, "whole number"),
    ({"hub.mode": "subscribe", "hub.topic": ATOM, "hub.callback": "CB", "hub.secret": "s" * 200}, 400, "under 200 bytes"),
])
async def test_bad_requests_get_a_plain_text_reason(hub: Running, subscriber: Subscriber, form: dict[str, str],
                                                    status: int, reason: str) -> None:
    form = {k: subscriber.url("a") if v == "CB" else v for k, v in form.items()}
    got, content_type, text = await hub.post(**form)
    assert (got, content_type) == (status, "text/plain; charset=utf-8")
    assert reason in text
    assert subscriber.requests == 0


async def test_a_secret_of_199_bytes_is_taken(hub: Running, subscriber: Subscriber) -> None:
    await subscribed(hub, subscriber, "a", **{"hub.secret": "é" * 99 + "s"})  # 199 bytes in UTF-8
    assert await hub.live() == 1


async def test_form_encoding_size_and_repeats(hub: Running, subscriber: Subscriber) -> None:
    response = await hub.client.post("/websub", json={"hub.mode": "subscribe"})
    assert response.status == 415
    response = await hub.client.post("/websub", data={"hub.mode": "subscribe", "x": "y" * 9000})
    assert response.status == 413
    # A repeated field: the first counts (and a form larger than aiohttp's 1 KiB client_max_size is fine).
    body = (f"hub.mode=subscribe&hub.mode=unsubscribe&hub.topic={ATOM}&hub.callback={subscriber.url('a')}"
            f"&pad={'p' * 3000}")
    response = await hub.client.post("/websub", data=body,
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 202
    await subscriber.wait(lambda: bool(subscriber.verified("a")), "verification")
    assert subscriber.verified("a")[0].query["hub.mode"] == "subscribe"


async def test_lease_is_clamped_to_an_hour_and_ten_days(hub: Running, subscriber: Subscriber) -> None:
    await subscribed(hub, subscriber, "short", **{"hub.lease_seconds": "10"})
    await subscribed(hub, subscriber, "long", **{"hub.lease_seconds": "999999999"})
    assert subscriber.verified("short")[0].query["hub.lease_seconds"] == "3600"
    assert subscriber.verified("long")[0].query["hub.lease_seconds"] == "864000"


async def test_query_of_the_callback_is_kept_and_verify_token_echoed(hub: Running, subscriber: Subscriber) -> None:
    callback = subscriber.url("a", query="k=0a1b&x=%2F")  # FreshRSS's shape
    assert await hub.subscribe(callback, **{"hub.verify_token": "tok 1"}) == 202
    await subscriber.wait(lambda: bool(subscriber.verified("a")), "verification")
    verification = subscriber.verified("a")[0]
    assert verification.raw_query.startswith("k=0a1b&x=%2F&hub.mode=subscribe&")
    assert verification.query["k"] == "0a1b" and verification.query["x"] == "/"
    assert verification.query["hub.verify_token"] == "tok 1"


async def test_unsubscribing_an_unknown_subscription_needs_no_verification(hub: Running,
                                                                           subscriber: Subscriber) -> None:
    assert await hub.unsubscribe(subscriber.url("a")) == 202
    await hub.hub.idle()
    assert subscriber.requests == 0


async def test_rate_limit_per_client_address(aiohttp_client: Any, tmp_path: Path, subscriber: Subscriber) -> None:
    hub = await start_hub(aiohttp_client, tmp_path, limits=Limits(rate_burst=3, rate_per_second=0.01))
    for _ in range(3):
        assert await hub.unsubscribe(subscriber.url("a")) == 202
    response = await hub.client.post("/websub", data={"hub.mode": "unsubscribe"})
    assert response.status == 429 and int(response.headers["Retry-After"]) > 0


async def test_caps_on_subscriptions_and_pending_verifications(aiohttp_client: Any, tmp_path: Path,
                                                               subscriber: Subscriber) -> None:
    hub = await start_hub(aiohttp_client, tmp_path, limits=Limits(subscriptions_per_host=1, intents_per_host=1,
                                                                  verify_timeout=5.0))
    await subscribed(hub, subscriber, "a")
    assert await hub.subscribe(subscriber.url("a"), RSS) == 403  # a second subscription on the host
    assert await hub.subscribe(subscriber.url("a")) == 202  # re-subscribing is not a new one
    await hub.hub.idle()
    release = subscriber.on("slow", release=asyncio.Event()).release
    assert release is not None
    assert await hub.unsubscribe(subscriber.url("a")) == 202
    await subscriber.wait(lambda: len(subscriber.verified("a")) == 3, "unsubscribe verification")
    await hub.hub.idle()
    status, _, text = await hub.post(**{"hub.mode": "subscribe", "hub.topic": ATOM,
                                        "hub.callback": subscriber.url("slow")})
    assert status == 202
    await subscriber.wait(lambda: bool(subscriber.verified("slow")), "hanging verification")
    status, _, text = await hub.post(**{"hub.mode": "subscribe", "hub.topic": RSS,
                                        "hub.callback": subscriber.url("slow")})
    assert status == 429 and "awaiting verification" in text
    release.set()


async def test_not_started_and_disabled(aiohttp_client: Any, tmp_path: Path) -> None:
    settings = hub_settings(tmp_path, websub="false", websub_hubs="https://hub.example/")
    hub = Hub(settings, Metrics(), topics=TOPICS.__contains__)
    assert hub.links(ATOM) == f'<https://hub.example/>; rel="hub", <{ATOM}>; rel="self"'
    app = web.Application()
    app.router.add_post("/websub", hub.handle)
    client = await aiohttp_client(app)
    response = await client.post("/websub", data={"hub.mode": "subscribe"})
    assert response.status == 404
    await hub.start()  # only the pinger runs; no state file
    await hub.stop()
    assert not (tmp_path / "state" / "websub.sqlite3").exists()
    enabled = Hub(hub_settings(tmp_path), Metrics(), topics=TOPICS.__contains__)
    app = web.Application()
    app.router.add_post("/websub", enabled.handle)
    client = await aiohttp_client(app)
    response = await client.post("/websub", data={"hub.mode": "subscribe"})
    assert response.status == 503  # not started yet


# -- verification failures ---------------------------------------------------------------------

@pytest.mark.parametrize(("answer", "outcome"), [("404", "rejected"), ("wrong", "wrong_challenge"),
                                                 ("redirect", "redirected")])
async def test_failed_verification_subscribes_nothing(hub: Running, subscriber: Subscriber, answer: str,
                                                      outcome: str) -> None:
    subscriber.on("a", verify=answer)
    await subscribed(hub, subscriber, "a")
    assert await hub.live() == 0
    assert subscriber.elsewhere == 0  # the redirect was not followed
    assert hub.sample("feedsvc_websub_verifications_total", mode="subscribe", outcome=outcome) == 1
    hub.publish(ATOM, ATOM_FULL)
    await hub.hub.idle()
    await asyncio.sleep(0.05)
    assert subscriber.deliveries == []


async def test_failed_resubscription_keeps_the_old_state(hub: Running, subscriber: Subscriber) -> None:
    await subscribed(hub, subscriber, "a", **{"hub.secret": "old secret"})
    subscriber.on("a", verify="404")
    await subscribed(hub, subscriber, "a", **{"hub.secret": "new secret"})
    hub.publish(ATOM, ATOM_FULL)
    await subscriber.wait(lambda: bool(subscriber.delivered("a")), "delivery")
    expected = hmac.new(b"old secret", ATOM_FULL, hashlib.sha256).hexdigest()
    assert subscriber.delivered("a")[0].headers["X-Hub-Signature"] == f"sha256={expected}"


async def test_verification_timeout(aiohttp_client: Any, tmp_path: Path, subscriber: Subscriber) -> None:
    hub = await start_hub(aiohttp_client, tmp_path, limits=Limits(verify_timeout=0.2))
    subscriber.on("a", verify="hang")
    await subscribed(hub, subscriber, "a")
    assert await hub.live() == 0
    assert hub.sample("feedsvc_websub_verifications_total", mode="subscribe", outcome="unreachable") == 1


# -- delivery failures -------------------------------------------------------------------------

async def test_410_ends_the_subscription(hub: Running, subscriber: Subscriber) -> None:
    await subscribed(hub, subscriber, "a")
    subscriber.on("a", statuses=deque([410]))
    hub.publish(ATOM, ATOM_FULL)
    await subscriber.wait(lambda: bool(subscriber.deliveries), "delivery")
    await hub.hub.idle()
    assert await hub.live() == 0
    hub.publish(ATOM, ATOM_FULL + b" ")
    await hub.hub.idle()
    await asyncio.sleep(0.05)
    assert len(subscriber.deliveries) == 1
    assert hub.sample("feedsvc_websub_deliveries_total", outcome="gone") == 1


@pytest.mark.parametrize(("statuses", "hang", "outcome"), [([500, 503], 0.0, "failed"), ([302], 0.0, "redirected"),
                                                           ([], 0.6, "timeout")])
async def test_failures_are_retried_with_backoff(aiohttp_client: Any, tmp_path: Path, subscriber: Subscriber,
                                                 statuses: list[int], hang: float, outcome: str) -> None:
    hub = await start_hub(aiohttp_client, tmp_path)
    await subscribed(hub, subscriber, "a")
    behaviour = subscriber.on("a", statuses=deque(statuses), hang=hang)
    hub.publish(ATOM, ATOM_FULL, ATOM_FRESH)
    if hang:
        await subscriber.wait(lambda: hub.sample("feedsvc_websub_deliveries_total", outcome="timeout") >= 1, "timeout")
        behaviour.hang = 0.0
    await subscriber.wait(lambda: bool(subscriber.delivered("a")), "a delivery that succeeds")
    assert hub.sample("feedsvc_websub_deliveries_total", outcome=outcome) >= 1
    assert subscriber.elsewhere == 0
    assert all(d.body == ATOM_FRESH for d in subscriber.deliveries)
    await subscriber.wait(lambda: hub.sample("feedsvc_websub_retries_pending") == 0, "retries gauge back to 0")


async def test_newer_content_replaces_a_pending_retry(aiohttp_client: Any, tmp_path: Path,
                                                      subscriber: Subscriber) -> None:
    hub = await start_hub(aiohttp_client, tmp_path, limits=Limits(backoff_base=0.6, backoff_cap=0.6, retry_for=10))
    await subscribed(hub, subscriber, "a")
    subscriber.on("a", statuses=deque([500]))
    hub.publish(ATOM, b"<feed>1</feed>", b"<feed>fresh 1</feed>")
    await subscriber.wait(lambda: len(subscriber.deliveries) == 1, "the failing delivery")
    await subscriber.wait(lambda: hub.sample("feedsvc_websub_retries_pending") == 1, "a retry pending")
    hub.publish(ATOM, b"<feed>2 1</feed>", b"<feed>fresh 2</feed>")
    await subscriber.wait(lambda: bool(subscriber.delivered("a")), "the newer content")
    await asyncio.sleep(0.65)  # past the old retry's time: it must not come
    # The replacement is the full document: the fresh one of change 2 lacks change 1's entries.
    assert [d.body for d in subscriber.deliveries] == [b"<feed>fresh 1</feed>", b"<feed>2 1</feed>"]


async def test_giving_up_after_the_bounded_time_keeps_the_subscription(aiohttp_client: Any, tmp_path: Path,
                                                                       subscriber: Subscriber) -> None:
    hub = await start_hub(aiohttp_client, tmp_path, limits=Limits(backoff_base=0.02, backoff_cap=0.05, retry_for=0.3))
    await subscribed(hub, subscriber, "a")
    subscriber.on("a", statuses=deque([500] * 1000))
    hub.publish(ATOM, ATOM_FULL)
    await subscriber.wait(lambda: hub.sample("feedsvc_websub_abandoned_total") == 1, "giving up")
    tries = len(subscriber.deliveries)
    assert 3 <= tries < 30
    await asyncio.sleep(0.15)
    assert len(subscriber.deliveries) == tries
    assert await hub.live() == 1


async def test_a_slow_subscriber_never_delays_the_others(aiohttp_client: Any, tmp_path: Path,
                                                         subscriber: Subscriber) -> None:
    resolver = FakeResolver({"slow.test": ["127.0.0.1"], "fast.test": ["127.0.0.1"]})
    hub = await start_hub(aiohttp_client, tmp_path, resolver=resolver,
                          limits=Limits(per_host=1, delivery_timeout=2.0, backoff_base=5))
    for name in ("slow1", "slow2", "slow3"):
        subscriber.on(name, hang=1.5)
        assert await hub.subscribe(subscriber.url(name, host="slow.test")) == 202
    assert await hub.subscribe(subscriber.url("fast", host="fast.test")) == 202
    await subscriber.wait(lambda: len(subscriber.verifications) == 4, "verifications")
    await subscriber.wait(lambda: hub.sample("feedsvc_websub_subscriptions") == 4, "subscriptions")
    started = time.monotonic()
    hub.publish(ATOM, ATOM_FULL)
    await subscriber.wait(lambda: bool(subscriber.delivered("fast")), "the fast subscriber's delivery")
    assert time.monotonic() - started < 0.5
    assert not subscriber.delivered("slow1")


# -- leases ------------------------------------------------------------------------------------

async def test_expired_subscriptions_stop_receiving_and_are_removed(aiohttp_client: Any, tmp_path: Path,
                                                                    subscriber: Subscriber) -> None:
    clock = Clock()
    hub = await start_hub(aiohttp_client, tmp_path, clock=clock)
    await subscribed(hub, subscriber, "a", **{"hub.lease_seconds": "3600"})
    await subscribed(hub, subscriber, "b")
    clock.now += 3599
    hub.publish(ATOM, b"<feed>1</feed>")
    await subscriber.wait(lambda: len(subscriber.delivered()) == 2, "both deliveries")
    clock.now += 2
    hub.publish(ATOM, b"<feed>2</feed>")
    await subscriber.wait(lambda: len(subscriber.delivered("b")) == 2, "b's second delivery")
    await hub.hub.idle()
    assert len(subscriber.delivered("a")) == 1
    assert [s.callback for s in await hub.hub.subscriptions()] == [subscriber.url("b")]
    assert await hub.hub.sweep() != []
    await subscriber.wait(lambda: hub.sample("feedsvc_websub_subscriptions") == 1, "gauge")
    clock.now += 10 * 24 * 3600
    assert len(await hub.hub.sweep()) == 1
    assert hub.sample("feedsvc_websub_subscriptions") == 0


# -- restarts ----------------------------------------------------------------------------------

async def test_subscriptions_and_a_pending_delivery_survive_a_restart(aiohttp_client: Any, tmp_path: Path,
                                                                      subscriber: Subscriber) -> None:
    clock = Clock()
    slow = Limits(backoff_base=30, backoff_cap=30)
    first = await start_hub(aiohttp_client, tmp_path, limits=slow, clock=clock)
    await subscribed(first, subscriber, "a", **{"hub.secret": "s3cret"})
    await subscribed(first, subscriber, "gone")
    subscriber.on("a", statuses=deque([500]))
    first.publish(ATOM, ATOM_FULL, ATOM_FRESH)
    await subscriber.wait(lambda: len(subscriber.deliveries) == 2, "the first tries")
    await subscriber.wait(lambda: first.sample("feedsvc_websub_retries_pending") == 1, "a retry pending")
    assert await first.unsubscribe(subscriber.url("gone")) == 202
    await subscriber.wait(lambda: len(subscriber.verified("gone")) == 2, "unsubscribe")
    await first.hub.idle()
    # a request stored but not yet verified when the hub stops
    release = subscriber.on("late", release=asyncio.Event()).release
    assert release is not None and await first.subscribe(subscriber.url("late")) == 202
    await subscriber.wait(lambda: bool(subscriber.verified("late")), "late verification under way")
    await first.client.close()  # stops the hub: the retry 30 s away is still pending
    release.set()

    clock.now += 60  # the retry is due now
    second = await start_hub(aiohttp_client, tmp_path, limits=FAST, clock=clock)
    await subscriber.wait(lambda: bool(subscriber.delivered("a")), "the pending delivery, after the restart")
    headers = check_delivery(subscriber, "a", ATOM, ATOM_FRESH)
    assert headers["X-Hub-Signature"] == "sha256=" + hmac.new(b"s3cret", ATOM_FRESH, hashlib.sha256).hexdigest()
    await subscriber.wait(lambda: len(subscriber.verified("late")) == 2, "the stored request verified again")
    await second.hub.idle()
    assert sorted(s.callback for s in await second.hub.subscriptions()) == [subscriber.url("a"),
                                                                           subscriber.url("late")]
    second.publish(ATOM, b"<feed>next</feed>")
    await subscriber.wait(lambda: len(subscriber.delivered("late")) == 1, "a delivery to the late one")
    await second.hub.idle()
    assert len(subscriber.delivered("gone")) == 1  # only the one before it unsubscribed


def test_state_file_is_private(tmp_path: Path) -> None:
    store = Store(tmp_path / "state")
    store.open()
    try:
        store.add_intent(Mode.SUBSCRIBE, ATOM, "https://example.org/cb", "example.org", 3600, "secret", None,
                         time.time(), Limits())
        for path in (store.path, store.path.with_name(store.path.name + "-wal")):
            assert (path.stat().st_mode & 0o777) == 0o600, path
    finally:
        store.close()
