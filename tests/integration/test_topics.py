"""Feeds per publication, per author and per search, in both languages, with Ukrainian word forms."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import lxml.etree
import lxml.html
import pytest
from helpers import make_doc, write
from helpers.corpora import topics_corpus
from helpers.feeds import fetch, ids, parse

FORMATS = ("atom", "rss", "json")
PREFIXES = ("", "/en", "/uk")


def item_ids(body: bytes) -> list[str]:
    if body.lstrip().startswith(b"{"):
        return [i["id"].split(":")[2] for i in json.loads(body)["items"]]
    return [e.id.split(":")[2] for e in parse(body).entries]


async def test_publication_and_author_feeds_in_every_format_and_language(seeds: Path, state: Path,
                                                                        start_app: Any) -> None:
    topics_corpus(seeds)
    client = await start_app(seeds, state)
    for prefix in PREFIXES:
        for fmt in FORMATS:
            status, headers, body = await fetch(client, f"{prefix}/publications/associated-press/feed.{fmt}")
            assert status == 200, (prefix, fmt)
            assert set(item_ids(body)) == {"ap-sanctions", "ap-long-name"}, "AP and Associated Press are one"
            assert (await fetch(client, f"{prefix}/publications/associated-press/feed.{fmt}",
                                **{"If-None-Match": headers["ETag"]}))[0] == 304
            status, _, body = await fetch(client, f"{prefix}/authors/dmytro-kuleba/feed.{fmt}")
            assert status == 200 and item_ids(body) == ["kuleba-trade"], (prefix, fmt)
            assert (await fetch(client, f"{prefix}/publications/no-such-paper/feed.{fmt}"))[0] == 404
            assert (await fetch(client, f"{prefix}/authors/No_Such/feed.{fmt}"))[0] == 404
    atom = parse((await fetch(client, "/uk/publications/reuters/feed.atom"))[2])
    assert atom.feed.title.endswith("— Reuters") and atom.feed.title.startswith("feedsvc")
    links = {link.rel: link.href for link in atom.feed.links}
    assert links["self"] == "http://feeds.test/uk/publications/reuters/feed.atom"
    assert atom.feed.id == "tag:feedsvc.localhost,2026:/uk/publications/reuters/feed"
    gz = await client.get("/authors/jane-doe/feed.json", headers={"Accept-Encoding": "gzip"})
    assert gz.status == 200 and gz.headers["Content-Encoding"] == "gzip"
    paged = json.loads((await fetch(client, "/authors/jane-doe/feed.json?limit=1"))[2])
    assert paged["next_url"] == "http://feeds.test/authors/jane-doe/feed.json?limit=1&page=2"


@pytest.mark.parametrize(("q", "expected"), [
    ("санкції", {"ap-sanctions", "kuleba-trade"}),        # санкціями in kuleba-trade
    ("санкціями", {"ap-sanctions", "kuleba-trade"}),
    ("sanction", {"ap-sanctions", "kuleba-trade"}),       # sanctions in ap-sanctions
    ("sanctions", {"ap-sanctions", "kuleba-trade"}),
    ("санкції -росія", {"kuleba-trade"}),
    ("санкції торгівлі", {"kuleba-trade"}),              # every word must match
    ("зерно", {"ap-long-name"}),
    ("кубок", {"unrelated"}),
    ("-санкції", {"ap-long-name", "unrelated"}),
    ("квантовий", set()),
])
async def test_search_matches_every_word_in_any_form(seeds: Path, state: Path, start_app: Any, q: str,
                                                     expected: set[str]) -> None:
    topics_corpus(seeds)
    client = await start_app(seeds, state)
    encoded = urllib.parse.quote(q)
    for path in ("/feed.atom", "/feed.rss", "/feed.json"):
        status, _, body = await fetch(client, f"{path}?q={encoded}")
        assert status == 200, (path, body[:200])
        assert set(item_ids(body)) == expected, (q, path)
    uk = set(item_ids((await fetch(client, f"/uk/feed.json?q={encoded}"))[2]))
    assert uk == expected
    by_author = set(item_ids((await fetch(client, f"/authors/jane-doe/feed.atom?q={encoded}"))[2]))
    assert by_author == expected - {"kuleba-trade"}
    feed = json.loads((await fetch(client, f"/feed.json?q={encoded}&limit=1"))[2])
    assert feed["feed_url"] == f"http://feeds.test/feed.json?q={urllib.parse.quote(q, safe='')}&limit=1"
    assert q in feed["title"]


async def test_bad_queries_get_400_with_a_json_error(seeds: Path, state: Path, start_app: Any) -> None:
    topics_corpus(seeds)
    client = await start_app(seeds, state)
    for q in ("x" * 201, " ".join(["слово"] * 9), "- - -"):
        status, headers, body = await fetch(client, f"/feed.atom?q={urllib.parse.quote(q)}")
        assert status == 400 and headers["Content-Type"].startswith("application/json"), q
        assert json.loads(body)["error"]


async def test_a_change_reaches_search_and_topic_feeds(seeds: Path, state: Path, start_app: Any) -> None:
    topics_corpus(seeds)
    client = await start_app(seeds, state)
    q = urllib.parse.quote("санкції")
    before = set(item_ids((await fetch(client, f"/feed.json?q={q}"))[2]))
    write(seeds, "new-sanctions.txt", make_doc(9, uk="Нові санкційні кроки", summary_uk="Уряд ухвалив нові санкції. https://example.com/9").replace("Reuters.- ", "AP.- "))

    async def arrived() -> bool:
        return "new-sanctions" in set(item_ids((await fetch(client, f"/feed.json?q={q}"))[2]))
    from helpers import poll_until_async
    await poll_until_async(arrived, what="the new digest in the search feed")
    assert set(item_ids((await fetch(client, f"/feed.json?q={q}"))[2])) == before | {"new-sanctions"}
    assert "new-sanctions" in item_ids((await fetch(client, "/publications/associated-press/feed.atom"))[2])


async def test_opml_lists_feeds_that_answer_and_parse(seeds: Path, state: Path, start_app: Any) -> None:
    topics_corpus(seeds)
    client = await start_app(seeds, state)
    status, headers, body = await fetch(client, "/feeds.opml")
    assert status == 200 and headers["Content-Type"].startswith("text/x-opml")
    root = lxml.etree.fromstring(body)
    assert root.get("version") == "2.0"
    urls = [o.get("xmlUrl") for o in root.iter("outline") if o.get("xmlUrl")]
    assert "http://feeds.test/feed.atom" in urls and "http://feeds.test/uk/feed.atom" in urls
    assert "http://feeds.test/publications/associated-press/feed.atom" in urls
    assert "http://feeds.test/en/publications/reuters/feed.atom" in urls
    assert all(u.startswith("http://feeds.test/") for u in urls)
    for url in urls:
        feed_status, _, feed = await fetch(client, url.removeprefix("http://feeds.test"))
        assert feed_status == 200, url
        assert ids(feed), url


async def test_pages_link_to_the_topic_and_search_feeds(seeds: Path, state: Path, start_app: Any) -> None:
    topics_corpus(seeds)
    client = await start_app(seeds, state)
    home = lxml.html.document_fromstring((await fetch(client, "/"))[2])
    assert {"/topics", "/search", "/feeds.opml"} <= {a.get("href") for a in home.xpath("//a")}
    assert home.xpath("//link[@rel='search']")[0].get("href") == "/opensearch.xml"
    topics = lxml.html.document_fromstring((await fetch(client, "/topics"))[2])
    hrefs = {a.get("href") for a in topics.xpath("//a")}
    assert "http://feeds.test/publications/associated-press/feed.atom" in hrefs
    assert "http://feeds.test/uk/authors/dmytro-kuleba/feed.json" in hrefs
    row = next(tr for tr in topics.xpath("//tr") if tr.xpath("th") and tr.xpath("th")[0].text == "Associated Press")
    assert row.xpath("td")[0].text_content().startswith("2:")
    search = lxml.html.document_fromstring((await fetch(client, "/search?q=" + urllib.parse.quote("санкції")))[2])
    alternates = [ln.get("href") for ln in search.xpath("//head/link[@rel='alternate']")]
    assert "http://feeds.test/feed.atom?q=%D1%81%D0%B0%D0%BD%D0%BA%D1%86%D1%96%D1%97" in alternates
    assert len(search.xpath("//article")) == 2
    status, _, description = await fetch(client, "/opensearch.xml")
    assert status == 200 and b"/search?q={searchTerms}" in description
