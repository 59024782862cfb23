"""The HTTP interface: feeds, conditional GET, paging, URLs, headers, health, metrics."""

from __future__ import annotations

import datetime as dt
import email.utils
import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import feedparser
import pytest
from helpers import CONFORMANCE, SEED, make_doc, write
from helpers.feeds import FEEDS, doc_id, fetch, ids, metric, metrics, parse
from lxml import etree

SEED_ID = "000_1376dc493dc06474"
MEDIA = {"atom": "application/atom+xml", "rss": "application/rss+xml", "json": "application/feed+json"}
HOSTILE = "Evil ]]> </summary><script>alert(1)</script> & co"


@pytest.fixture
async def client(seeds: Path, state: Path, start_app: Any) -> Any:
    shutil.copy(SEED, seeds)
    write(seeds, "en-only.txt", "BBC News - 2023-05-01\n\nBy Jane Doe\n\n# English only title about markets\n\n"
          "Markets rose on Monday after the central bank held rates. Traders said the move was expected.\n\n"
          "Analysts expect more gains this week.\n")
    return await start_app(seeds, state)


async def test_every_feed_serves_the_seed(client: Any) -> None:
    for path in FEEDS:
        status, headers, body = await fetch(client, path)
        assert status == 200, path
        fmt = path.rsplit(".", 1)[1]
        assert headers["Content-Type"] == f"{MEDIA[fmt]}; charset=utf-8"
        found = ids(body)
        assert SEED_ID in found, path
        assert ("en-only" in found) == (not path.startswith("/uk/")), path


async def test_seed_entry_content_and_languages(client: Any) -> None:
    entry = next(e for e in parse((await fetch(client, "/feed.atom"))[2]).entries if doc_id(e.id) == SEED_ID)
    assert entry.link == "https://time.com/6313566/kim-jong-un-tours-russian-rocket-launch-center-with-putin/"
    # Published when this service first saw the file (today), not on the article's date, which
    # the entry shows with the publication.
    published = dt.datetime(*entry.published_parsed[:6], tzinfo=dt.UTC)
    assert abs((dt.datetime.now(dt.UTC) - published).total_seconds()) < 120
    content = entry.content[0].value
    assert "Time · 2023-09-13 · Kim Tong-Hyung, Dasha Litvinova" in content
    assert "vladimir putin and Kim Jong Un meet at remote siberian rocket launch facility" in content
    assert "володимир путін і Кім Чен Ин зустрілися" in content
    assert "Лідери росії та Північної Кореї" in content
    assert "The leaders of Russia and North Korea met" in content
    assert "Speculation about their military cooperation" in content, "the full English article is the content"

    uk = parse((await fetch(client, "/uk/feed.atom"))[2])
    assert uk.feed.get("language") == "uk" or uk.feed.title_detail.language == "uk"
    uk_entry = next(e for e in uk.entries if doc_id(e.id) == SEED_ID)
    assert uk_entry.title.startswith("володимир путін")
    assert uk_entry.title_detail.language == "uk"
    en_entry = next(e for e in parse((await fetch(client, "/en/feed.atom"))[2]).entries if doc_id(e.id) == SEED_ID)
    assert en_entry.title.startswith("vladimir putin")
    assert en_entry.title_detail.language == "en"

    rss = feedparser.parse((await fetch(client, "/uk/feed.rss"))[2])
    assert rss.feed.language == "uk"
    jf = json.loads((await fetch(client, "/en/feed.json"))[2])
    assert jf["version"] == "https://jsonfeed.org/version/1.1" and jf["language"] == "en"
    assert all(item["id"] and (item.get("content_html") or item.get("content_text")) for item in jf["items"])


async def test_atom_feeds_validate_against_rfc4287_schema(client: Any) -> None:
    schema = etree.RelaxNG(etree.parse(str(CONFORMANCE / "atom.rng")))
    for path in ("/feed.atom", "/en/feed.atom", "/uk/feed.atom", "/feed.atom?limit=1&page=2"):
        doc = etree.fromstring((await fetch(client, path))[2])
        assert schema.validate(doc), (path, schema.error_log)


async def test_conditional_get(client: Any) -> None:
    _status, headers, body = await fetch(client, "/feed.atom")
    etag, last_modified = headers["ETag"], headers["Last-Modified"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert headers["Cache-Control"] == "public, max-age=300, s-maxage=1"
    assert "Accept-Encoding" in headers["Vary"]
    assert headers["Access-Control-Allow-Origin"] == "*"
    feed_updated = parse(body).feed.updated_parsed
    assert email.utils.parsedate(last_modified)[:6] == tuple(feed_updated[:6]), "Last-Modified is the feed's updated"

    assert (await fetch(client, "/feed.atom", **{"If-None-Match": etag}))[0] == 304
    assert (await fetch(client, "/feed.atom", **{"If-None-Match": f'"other", {etag}'}))[0] == 304
    assert (await fetch(client, "/feed.atom", **{"If-None-Match": '"other"'}))[0] == 200
    assert (await fetch(client, "/feed.atom", **{"If-Modified-Since": last_modified}))[0] == 304
    later = email.utils.format_datetime(email.utils.parsedate_to_datetime(last_modified).replace(year=2099), usegmt=True)
    assert (await fetch(client, "/feed.atom", **{"If-Modified-Since": later}))[0] == 200, "a date past our clock is invalid"
    earlier = email.utils.format_datetime(email.utils.parsedate_to_datetime(last_modified).replace(year=2001), usegmt=True)
    assert (await fetch(client, "/feed.atom", **{"If-Modified-Since": earlier}))[0] == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
    assert (await fetch(client, "/feed.atom", **{"If-None-Match": '"other"', "If-Modified-Since": later}))[0] == 200
    not_modified = await client.get("/feed.atom", headers={"If-None-Match": etag})
    assert not_modified.headers["ETag"] == etag and await not_modified.read() == b""


async def test_gzip(client: Any) -> None:
    plain = await client.get("/feed.rss", headers={"Accept-Encoding": "identity"}, auto_decompress=False)
    packed = await client.get("/feed.rss", headers={"Accept-Encoding": "gzip, deflate"}, auto_decompress=False)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in plain.headers
    assert gzip.decompress(await packed.read()) == await plain.read()
    assert packed.headers["ETag"] != plain.headers["ETag"]
    assert (await client.get("/feed.rss", headers={"Accept-Encoding": "gzip",
                                                   "If-None-Match": packed.headers["ETag"]})).status == 304
    refused = await client.get("/feed.rss", headers={"Accept-Encoding": "gzip;q=0"}, auto_decompress=False)
    assert "Content-Encoding" not in refused.headers


async def test_head(client: Any) -> None:
    response = await client.head("/feed.json")
    assert response.status == 200 and response.headers["ETag"]
    assert await response.read() == b""


async def test_limit_and_paging(seeds: Path, client: Any) -> None:
    for n in range(7):
        write(seeds, f"p{n}.txt", make_doc(n, date=f"0{n + 1}.01.2024"))

    async def nine() -> bool:
        return len(ids((await fetch(client, "/feed.atom"))[2])) == 9
    from helpers import poll_until_async
    await poll_until_async(nine, what="nine entries")

    seen: list[str] = []
    url = "/feed.atom?limit=4"
    pages = 0
    while url:
        status, _, body = await fetch(client, url)
        assert status == 200
        feed = parse(body)
        seen += [doc_id(e.id) for e in feed.entries]
        links = {link.rel: link.href for link in feed.feed.links}
        assert links["self"] == "http://feeds.test" + url
        assert links["first"] == "http://feeds.test/feed.atom?limit=4"
        assert links["last"] == "http://feeds.test/feed.atom?limit=4&page=3"
        url = links["next"].removeprefix("http://feeds.test") if "next" in links else ""
        pages += 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == 9
    assert seen[:7] == [f"p{n}" for n in range(6, -1, -1)], "newest first"

    for bad in ("0", "501", "-1", "abc", "1.5", "", "99999999999"):
        status, headers, body = await fetch(client, f"/feed.rss?limit={bad}")
        assert status == 400, bad
        assert headers["Content-Type"].startswith("application/json")
        assert "limit" in json.loads(body)["error"]
    assert (await fetch(client, "/feed.json?page=0"))[0] == 400
    assert (await fetch(client, "/feed.json?page=99"))[0] == 404
    jf = json.loads((await fetch(client, "/feed.json?limit=4"))[2])
    assert jf["next_url"] == "http://feeds.test/feed.json?limit=4&page=2"
    assert jf["feed_url"] == "http://feeds.test/feed.json?limit=4"


async def test_forwarded_headers_are_ignored_unless_the_proxy_is_trusted(seeds: Path, state: Path,
                                                                         start_app: Any) -> None:
    """Cache poisoning: with no base URL and no trusted proxy, neither X-Forwarded-Host nor Host
    changes a single link."""
    shutil.copy(SEED, seeds)
    client = await start_app(seeds, state, base_url="")
    plain = (await fetch(client, "/feed.atom"))[2]
    for headers in ({"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}, {"Host": "evil.example"}):
        status, _, body = await fetch(client, "/feed.atom", **headers)
        assert status == 200 and body == plain and b"evil.example" not in body, headers
        home = (await fetch(client, "/", **headers))[2]
        assert b"evil.example" not in home
    self_link = next(link.href for link in parse(plain).feed.links if link.rel == "self")
    assert self_link == "http://127.0.0.1:8080/feed.atom", "links name the address the service is bound to"


async def test_urls_from_forwarded_headers(seeds: Path, state: Path, start_app: Any) -> None:
    shutil.copy(SEED, seeds)
    client = await start_app(seeds, state, base_url="", trusted_proxies="127.0.0.1,::1")
    body = (await fetch(client, "/feed.atom", **{"X-Forwarded-Proto": "https",
                                                 "X-Forwarded-Host": "news.example.org"}))[2]
    links = {link.rel: link.href for link in parse(body).feed.links}
    assert links["self"] == "https://news.example.org/feed.atom"
    direct = parse((await fetch(client, "/feed.rss"))[2])
    self_link = next(link.href for link in direct.feed.links if link.rel == "self")
    assert self_link == f"http://{client.host}:{client.port}/feed.rss"
    hostile = (await fetch(client, "/feed.atom", **{"X-Forwarded-Host": "evil\"><script>"}))[2]
    assert b"<script>" not in hostile


async def test_hostile_text_stays_text(seeds: Path, client: Any) -> None:
    write(seeds, "evil.txt", make_doc(66, en=f"English {HOSTILE}", uk=f"Українська стаття про загрозу {HOSTILE}",
                                      body=f"Paragraph with {HOSTILE} inside. It ends here.\n\nAnother one."))

    async def present() -> bool:
        for path in FEEDS:
            if "evil" not in ids((await fetch(client, path))[2]):
                return False
        return True
    from helpers import poll_until_async
    await poll_until_async(present, what="the hostile document in all nine feeds")
    for path in FEEDS:
        body = (await fetch(client, path))[2]
        assert b"<script>" not in body, path
        if path.endswith(".json"):
            items = json.loads(body)["items"]
            item = next(i for i in items if i["id"].split(":", 2)[2].startswith("evil"))
            assert HOSTILE in item["title"]
        else:
            entry = next(e for e in parse(body).entries if doc_id(e.id) == "evil")
            assert HOSTILE in entry.title, path
    home = (await fetch(client, "/"))[2].decode()
    assert "<script>" not in home and "&lt;script&gt;" in home


async def test_two_processes_agree(seeds: Path, tmp_path: Path, start_app: Any) -> None:
    shutil.copy(SEED, seeds)
    for n in range(3):
        write(seeds, f"d{n}.txt", make_doc(n))
    one = await start_app(seeds, tmp_path / "state-one")
    two = await start_app(seeds, tmp_path / "state-two")
    for path in FEEDS:
        a, b = await fetch(one, path), await fetch(two, path)
        assert a[2] == b[2], path
        assert a[1]["ETag"] == b[1]["ETag"] and a[1]["Last-Modified"] == b[1]["Last-Modified"], path


async def test_home_page(client: Any) -> None:
    status, headers, body = await fetch(client, "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    html = etree.fromstring(body, etree.HTMLParser())
    alternates = {(link.get("type"), link.get("href")) for link in html.iter("link") if link.get("rel") == "alternate"}
    assert len(alternates) == 9
    assert all(href.startswith("http://feeds.test/") for _, href in alternates)
    text = body.decode()
    assert "володимир путін" in text and "vladimir putin" in text


async def test_healthz_and_metrics(seeds: Path, client: Any) -> None:
    write(seeds, "empty.txt", "")
    write(seeds, ".hidden.txt", make_doc(5))

    async def rejected() -> bool:
        return bool((await (await client.get("/healthz")).json())["rejected"])
    from helpers import poll_until_async
    await poll_until_async(rejected, what="the empty file on /healthz")
    response = await client.get("/healthz")
    health = await response.json()
    assert response.status == 200
    assert health["status"] == "ok" and health["watcher"] == "alive" and health["documents"] == 2
    assert health["rejected"] == [{"path": "empty.txt", "reason": "empty file (no text)", "kind": "empty",
                                   "line": None}]
    assert health["last_change"]

    await fetch(client, "/feed.atom")
    await fetch(client, "/nope")
    text = await metrics(client)
    assert metric(text, "feedsvc_documents") == 2
    assert metric(text, "feedsvc_rejected_documents") == 1
    assert 'feedsvc_http_requests_total{route="/feed.atom",status="200"}' in text
    assert metric(text, "feedsvc_renders_total") >= 10
    assert metric(text, "feedsvc_watch_events_total") >= 1
    assert metric(text, "feedsvc_http_request_seconds_count") >= 1


async def test_errors_are_json_and_methods_limited(client: Any) -> None:
    status, _headers, body = await fetch(client, "/no/such/thing")
    assert status == 404 and b"no/such" not in body and b"Traceback" not in body
    status, _headers, body = await fetch(client, "/feed.atom?page=99")
    assert status == 404 and json.loads(body)["status"] == 404
    response = await client.post("/feed.atom", data=b"x")
    assert response.status == 405 and "GET" in response.headers["Allow"]
