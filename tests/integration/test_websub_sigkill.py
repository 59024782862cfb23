"""Durability: a hub in another process takes a subscription and fails a delivery, is killed with
SIGKILL, and a new hub on the same state folder delivers what was pending."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

import aiohttp
from helpers import poll_until_async
from helpers.websub import (
    ATOM,
    FAST,
    Subscriber,
    hub_settings,
    loopback_only_fixture,  # noqa: F401  (autouse: nothing leaves loopback)
    start_hub,
    subscriber_fixture,  # noqa: F401
)

from feedsvc.settings import Settings

# The child: a hub on a loopback port, with test-only routes to publish and to report its state.
CHILD = r"""
import asyncio, json, sys
from aiohttp import web
from feedsvc.ops.metrics import Metrics
from feedsvc.settings import Settings
from feedsvc.push.websub import FeedChange, Hub, Limits

async def main():
    settings = Settings.build(json.loads(sys.argv[1]), env={})
    metrics = Metrics()
    hub = Hub(settings, metrics, topics=lambda url: url.endswith("/feed.atom"),
              limits=Limits(backoff_base=30, backoff_cap=30))
    async def publish(request):
        hub.publish([FeedChange(request.query["topic"], "application/atom+xml; charset=utf-8", await request.read())])
        return web.Response(text="ok")
    async def state(request):
        return web.json_response({"subscriptions": len(await hub.subscriptions()),
                                  "retrying": metrics.registry.get_sample_value("feedsvc_websub_retries_pending")})
    app = web.Application()
    app.router.add_post("/websub", hub.handle)
    app.router.add_post("/publish", publish)
    app.router.add_get("/state", state)
    await hub.start()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_pending_delivery_survives_sigkill(tmp_path: Path, subscriber: Subscriber, aiohttp_client: Any) -> None:
    settings: Settings = hub_settings(tmp_path, websub_allow_callbacks="127.0.0.0/8")
    values = {"seeds": str(settings.seeds), "state_dir": str(settings.state_dir), "base_url": settings.base_url,
              "websub_allow_callbacks": "127.0.0.0/8"}
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", CHILD, json.dumps(values),
                                                 stdout=asyncio.subprocess.PIPE, env={**os.environ})
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 30)
        base = f"http://127.0.0.1:{int(line)}"
        async with aiohttp.ClientSession() as http:
            async def state() -> dict[str, Any]:
                async with http.get(base + "/state") as response:
                    found: dict[str, Any] = await response.json()
                    return found

            async def until(key: str, value: float) -> None:
                async def reached() -> bool:
                    return bool((await state())[key] == value)
                await poll_until_async(reached, f"child state {key} to become {value}", 10)

            form = {"hub.mode": "subscribe", "hub.topic": ATOM, "hub.callback": subscriber.url("a"),
                    "hub.secret": "kept across a crash"}
            async with http.post(base + "/websub", data=form) as response:
                assert response.status == 202
            await until("subscriptions", 1)
            subscriber.on("a", statuses=deque([500]))
            async with http.post(base + "/publish", params={"topic": ATOM}, data=b"<feed>pending</feed>") as response:
                assert response.status == 200
            await subscriber.wait(lambda: len(subscriber.deliveries) == 1, "the failing delivery")
            await until("retrying", 1)
    finally:
        if child.returncode is None:
            child.send_signal(signal.SIGKILL)
        await child.wait()
    assert child.returncode == -signal.SIGKILL

    hub = await start_hub(aiohttp_client, tmp_path, clock=lambda: time.time() + 60, limits=FAST)
    await subscriber.wait(lambda: bool(subscriber.delivered("a")), "the pending delivery after SIGKILL")
    (delivery,) = subscriber.delivered("a")
    assert delivery.body == b"<feed>pending</feed>" and "X-Hub-Signature" in delivery.headers
    assert len(await hub.hub.subscriptions()) == 1
