"""Conditional GET through a running app, for every kind of answer: the pre-rendered feeds and
home page, variants (?limit=, topic feeds), and pages computed per request (search, topics, OPML,
OpenSearch, the newsroom's status pages).

RFC 9110 §13.1.2: If-None-Match uses the weak comparison (W/"x" matches "x"), compares each
entity-tag whole ("abc" never matches "xabcx"), and `*` matches any current representation.
§13.2.2: If-None-Match, when present, decides alone; If-Modified-Since is then ignored.
"""

from __future__ import annotations

import email.utils
import shutil
from pathlib import Path
from typing import Any

import pytest
from helpers import SEED, make_doc, write
from helpers.feeds import fetch

PRERENDERED = ("/feed.atom", "/en/feed.json", "/uk/feed.rss", "/", "/favicon.ico")
VARIANTS = ("/feed.atom?limit=1", "/en/feed.rss?limit=1&page=2", "/publications/reuters/feed.json",
            "/authors/jane-doe/feed.atom?limit=1")
COMPUTED = ("/search?q=war", "/topics", "/feeds.opml", "/opensearch.xml", "/status", "/status.json",
            "/status.json?state=published&limit=1")


@pytest.fixture
async def client(seeds: Path, state: Path, start_app: Any) -> Any:
    shutil.copy(SEED, seeds)
    for n in range(3):
        write(seeds, f"doc-{n}.txt", make_doc(n))
    # Loopback (the test server's address): the newsroom pages open without a token.
    return await start_app(seeds, state, host="127.0.0.1")


async def _tag(client: Any, path: str) -> str:
    status, headers, body = await fetch(client, path)
    assert status == 200 and body, (path, status)
    etag = headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 2, (path, etag)
    return str(etag)


async def _status(client: Any, path: str, **headers: str) -> int:
    return (await fetch(client, path, **headers))[0]


async def _check(client: Any, path: str) -> None:
    """Every If-None-Match rule on one path."""
    etag = await _tag(client, path)
    bare = etag[1:-1]
    fresh = {
        "the tag as sent": etag,
        "a weak form of it": f"W/{etag}",
        "a list holding it": f'"other", {etag}',
        "a list holding its weak form": f'W/"other",W/{etag} , "third"',
        "the wildcard": "*",
    }
    for why, value in fresh.items():
        response = await client.get(path, headers={"If-None-Match": value})
        assert response.status == 304, (path, why, value)
        assert await response.read() == b"" and response.headers["ETag"] == etag, (path, why)
    stale = {
        "another tag": '"other"',
        "a tag holding ours inside": f'"x{bare}x"',
        "ours with a prefix": f'"x{bare}"',
        "ours cut short": f'"{bare[:-1]}"',
        "ours inside garbage": f"x{etag}x",
        "ours unquoted": bare,
        "a quoted star (a tag, not the wildcard)": '"*"',
        "an empty tag": 'W/""',
    }
    for why, value in stale.items():
        assert await _status(client, path, **{"If-None-Match": value}) == 200, (path, why, value)
    # If-None-Match decides alone (RFC 9110 §13.2.2), whatever If-Modified-Since says.
    now = email.utils.format_datetime(email.utils.localtime(), usegmt=True)
    assert await _status(client, path, **{"If-None-Match": '"other"', "If-Modified-Since": now}) == 200, path
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert await _status(client, path, **{"If-None-Match": etag, "If-Modified-Since": old}) == 304, path
    # HEAD follows GET.
    assert (await client.head(path, headers={"If-None-Match": "*"})).status == 304, path


async def test_prerendered_feeds_and_pages(client: Any) -> None:
    for path in PRERENDERED:
        await _check(client, path)
    # Either coding's tag stands for the feed: a cache may have stored the other one.
    gz = await client.get("/feed.atom", headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert gz.headers["ETag"].endswith('-gzip"')
    assert await _status(client, "/feed.atom", **{"Accept-Encoding": "identity",
                                                   "If-None-Match": gz.headers["ETag"]}) == 304


async def test_variants(client: Any) -> None:
    for path in VARIANTS:
        await _check(client, path)


async def test_computed_pages(client: Any) -> None:
    for path in COMPUTED:
        await _check(client, path)


async def test_the_wildcard_never_makes_a_missing_resource_fresh(client: Any) -> None:
    for path in ("/feed.atom?page=99", "/publications/no-such-paper/feed.atom", "/preview/no-such-id"):
        assert await _status(client, path, **{"If-None-Match": "*"}) == 404, path


async def test_if_modified_since_when_no_if_none_match(client: Any) -> None:
    _, headers, _ = await fetch(client, "/feed.atom")
    last_modified = headers["Last-Modified"]
    assert await _status(client, "/feed.atom", **{"If-Modified-Since": last_modified}) == 304
    assert await _status(client, "/feed.atom", **{"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}) == 200
    # A date past our clock is invalid (RFC 9110 §13.1.3): the feed is sent.
    assert await _status(client, "/feed.atom", **{"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}) == 200
    # Computed pages carry no Last-Modified: a date alone never makes them fresh.
    assert await _status(client, "/topics", **{"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}) == 200
