"""Helpers that read served feeds back the way clients do."""

from __future__ import annotations

import json
import re
from typing import Any

import feedparser

FEEDS = ("/feed.atom", "/feed.rss", "/feed.json", "/en/feed.atom", "/en/feed.rss", "/en/feed.json",
         "/uk/feed.atom", "/uk/feed.rss", "/uk/feed.json")


def doc_id(entry_id: str) -> str:
    """The document id inside a `tag:AUTHORITY,DATE:ID[:lang]` entry id."""
    rest = entry_id.split(":", 2)[2]
    return re.sub(r":(en|uk)$", "", rest)


def parse(body: bytes) -> Any:
    parsed = feedparser.parse(body)
    assert not parsed.bozo, f"feed not well-formed: {parsed.get('bozo_exception')}"
    return parsed


def ids(body: bytes) -> set[str]:
    """Document ids of a served feed, in any of the three formats."""
    if body.lstrip().startswith(b"{"):
        return {doc_id(item["id"]) for item in json.loads(body)["items"]}
    return {doc_id(e.id) for e in parse(body).entries}


async def fetch(client: Any, path: str = "/feed.atom", **headers: str) -> tuple[int, Any, bytes]:
    response = await client.get(path, headers=headers)
    return response.status, response.headers, await response.read()


async def served_ids(client: Any, path: str = "/feed.atom") -> set[str]:
    status, _, body = await fetch(client, path)
    assert status == 200, (path, status, body[:200])
    return ids(body)


def metric(text: str, name: str) -> float:
    """Sum of every sample of one metric in a Prometheus exposition."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def metrics(client: Any) -> str:
    response = await client.get("/metrics")
    assert response.status == 200
    return await response.text()


def first_ids(server: Any) -> dict[str, str]:
    """The first entry's document id in each of the nine feeds."""
    found = {}
    for path in FEEDS:
        status, _, body = server.get(path)
        assert status == 200, path
        if body.lstrip().startswith(b"{"):
            items = json.loads(body)["items"]
            found[path] = doc_id(items[0]["id"]) if items else ""
        else:
            entries = parse(body).entries
            found[path] = doc_id(entries[0].id) if entries else ""
    return found
