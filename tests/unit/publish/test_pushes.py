"""Push bodies through a running service (in-process: the watcher, parsers, publisher and hub):
none is rendered for a feed nobody subscribes to, and a later subscriber's first push holds only
what changed since the publication before it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from helpers import make_doc, poll_until_async, settings_for, write
from helpers.feeds import ids

from feedsvc.ops.metrics import Metrics
from feedsvc.push.websub.model import FeedChange
from feedsvc.service import Service


async def test_push_bodies_only_for_subscribed_feeds(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    write(seeds, "a.txt", make_doc(1))
    service = Service(settings_for(seeds, tmp_path / "state"), Metrics())
    pushed: list[FeedChange] = []
    publish = service.hub.publish

    def record(changes: Sequence[FeedChange]) -> None:
        pushed.extend(changes)
        publish(changes)
    service.hub.publish = record  # type: ignore[method-assign]
    await service.start()
    try:
        await poll_until_async(lambda: service.ready, "the first publication")
        atom = service.publisher.base_url + "/feed.atom"

        def change_to(topic: str) -> FeedChange | None:
            return next((change for change in pushed if change.topic_url == topic), None)

        # Nobody subscribes: the change is pushed (pings, the edges) with no push body rendered.
        assert not service.hub.has_subscribers(atom)
        write(seeds, "b.txt", make_doc(2))
        await poll_until_async(lambda: change_to(atom) is not None, "the push of b")
        assert all(change.fresh_body is None for change in pushed)
        assert service.publisher.pushes.rendered == 0

        # A subscriber of /feed.atom comes: its first push holds c only, not b (published before).
        service.hub.has_subscribers = lambda topic: topic == atom  # type: ignore[method-assign]
        pushed.clear()
        write(seeds, "c.txt", make_doc(3))
        await poll_until_async(lambda: change_to(atom) is not None, "the push of c")
        change = change_to(atom)
        assert change is not None and change.fresh_body is not None
        assert len(ids(change.fresh_body)) == 1 and ids(change.fresh_body) < ids(change.full_body)
        assert all(c.fresh_body is None for c in pushed if c.topic_url != atom)
        assert service.publisher.pushes.rendered == 1
    finally:
        await service.stop()
