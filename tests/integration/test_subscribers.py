"""What subscribers receive: started the way `make run` starts it, read back by real readers.

Every test runs a real `feedsvc serve` (or the app over a real folder) and reads what a feed reader
would: feedparser's entries, the bytes and validators a poller gets. (newsboat's article list in a
terminal: system/test_newsboat.py.)
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import lxml.html
import pysbd
from helpers import SEED, make_doc, past_the_second, poll_until, poll_until_async, write
from helpers.corpora import older_article
from helpers.feeds import FEEDS, doc_id, fetch, first_ids, ids, parse
from helpers.servers import Server, free_port

SEED_ID = SEED.stem
UTC = dt.UTC



def published(server: Server, path: str = "/feed.json") -> dict[str, str]:
    status, _, body = server.get(path + "?limit=500")
    assert status == 200
    return {doc_id(i["id"]): i["date_published"] for i in json.loads(body)["items"]}


# -- a new digest reaches subscribers -------------------------------------------------------------


def test_make_run_start_follows_the_relative_seeds_folder_live(tmp_path: Path) -> None:
    """`make run` passes ./seeds and ./var relative to the project: a new file must arrive live,
    not at the 60 s rescan (which is off here)."""
    project = tmp_path / "project"
    (project / "seeds").mkdir(parents=True)
    shutil.copy(SEED, project / "seeds")
    port = free_port()
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "feedsvc", "serve", "--seeds", "./seeds", "--state-dir", "./var",
                             "--host", "127.0.0.1", "--port", str(port), "--rescan-interval", "0"],
                            cwd=project, stdout=log, stderr=subprocess.STDOUT)
    server = Server.__new__(Server)
    server.url, server.proc = f"http://127.0.0.1:{port}", proc
    try:
        poll_until(lambda: _healthy(server), "the first scan", 30)
        assert (project / "var" / "index.sqlite3").exists(), "the state folder is relative to the working directory"
        write(project / "seeds", "fresh.txt", make_doc(1))
        started = time.monotonic()
        poll_until(lambda: "fresh" in ids(server.get("/feed.atom")[2]), "the new file in /feed.atom", 3)
        assert time.monotonic() - started < 3
        (project / "seeds" / "fresh.txt").write_text(make_doc(1, en="An edited headline about the war"))
        poll_until(lambda: b"An edited headline about the war" in server.get("/en/feed.atom")[2], "the edit")
        (project / "seeds" / "fresh.txt").unlink()
        poll_until(lambda: "fresh" not in ids(server.get("/feed.json")[2]), "the deletion")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        log.close()


def _healthy(server: Server) -> bool:
    try:
        return server.get("/healthz")[0] == 200
    except OSError:
        return False


def test_a_late_digest_of_an_older_article_is_first_in_every_feed(seeds: Path, state: Path,
                                                                   server_factory: Any) -> None:
    for n in range(60):  # more than a page of recent digests about recent articles
        write(seeds, f"recent-{n:02d}.txt", make_doc(n, date="20.11.2026"))
    server = server_factory(seeds, state)
    write(seeds, "late.txt", older_article(99))
    started = time.monotonic()
    poll_until(lambda: set(first_ids(server).values()) == {"late"}, "the late digest first in all nine feeds", 5)
    assert time.monotonic() - started < 1.5
    before = {lang: published(server, f"{lang}/feed.json") for lang in ("", "/en", "/uk")}
    late = dt.datetime.fromisoformat(before[""]["late"])
    assert abs((dt.datetime.now(UTC) - late).total_seconds()) < 30, "published when it was first seen here"
    _status, _, body = server.get("/feed.atom")
    entry = next(e for e in parse(body).entries if doc_id(e.id) == "late")
    assert "2019-03-05" in entry.content[0].value, "the article's own date is shown with the publication"
    assert json.loads(server.get("/feed.json")[2])["items"][0]["_feedsvc"]["date"] == "2019-03-05"

    server.stop()
    again = server_factory(seeds, state)
    assert {lang: published(again, f"{lang}/feed.json") for lang in before} == before, "moved over a restart"
    again.stop()
    (state / "index.sqlite3").unlink()  # the index is a cache: rebuilt from the folder
    rebuilt = server_factory(seeds, state)
    assert {lang: published(rebuilt, f"{lang}/feed.json") for lang in before} == before, "moved in a rebuild"
    assert set(first_ids(rebuilt).values()) == {"late"}


def test_a_file_copied_in_with_an_old_mtime_is_new_to_subscribers(seeds: Path, state: Path,
                                                                  server_factory: Any) -> None:
    """cp -p / rsync -a keep an old mtime: the digest is still new here, so it goes first, and
    Last-Modified moves so that an If-Modified-Since poller sees it."""
    write(seeds, "a.txt", make_doc(1))
    server = server_factory(seeds, state)
    _, headers, _ = server.get("/feed.atom")
    last_modified = headers["Last-Modified"]
    past_the_second(email.utils.parsedate_to_datetime(last_modified).timestamp(), "Last-Modified")  # whole seconds
    copied = write(seeds, ".incoming.tmp", make_doc(2))
    old = time.time() - 30 * 86400
    os.utime(copied, (old, old))
    os.rename(copied, seeds / "copied.txt")
    poll_until(lambda: first_ids(server)["/feed.atom"] == "copied", "the copied file first")
    status, headers, _ = server.get("/feed.atom", {"If-Modified-Since": last_modified})
    assert status == 200, "a poller that sends only If-Modified-Since must see the new entry"
    assert email.utils.parsedate_to_datetime(headers["Last-Modified"]) > \
        email.utils.parsedate_to_datetime(last_modified)


def test_no_published_date_is_in_the_future(seeds: Path, state: Path, server_factory: Any) -> None:
    """A file whose mtime is years ahead (copied from a machine with a fast clock) must not push
    the feed's dates or Last-Modified ahead: later changes would then look unmodified."""
    write(seeds, "a.txt", make_doc(1))
    server = server_factory(seeds, state)
    future = write(seeds, "future.txt", make_doc(2))
    ahead = time.time() + 4 * 365 * 86400
    os.utime(future, (ahead, ahead))
    poll_until(lambda: "future" in ids(server.get("/feed.atom")[2]), "the future-dated file")
    now = dt.datetime.now(UTC) + dt.timedelta(seconds=2)
    for path in FEEDS:
        _status, headers, body = server.get(path)
        assert email.utils.parsedate_to_datetime(headers["Last-Modified"]) <= now, path
        if path.endswith(".json"):
            feed = json.loads(body)
            dates = [dt.datetime.fromisoformat(feed["_feedsvc"]["updated"])]
            for item in feed["items"]:
                dates += [dt.datetime.fromisoformat(item["date_published"]),
                          dt.datetime.fromisoformat(item["date_modified"])]
        else:
            d = parse(body)
            dates = [dt.datetime(*d.feed.updated_parsed[:6], tzinfo=UTC)]
            for e in d.entries:
                dates += [dt.datetime(*e.published_parsed[:6], tzinfo=UTC)]
        assert max(dates) <= now, (path, max(dates))
    _, headers, _ = server.get("/feed.atom")
    past_the_second(email.utils.parsedate_to_datetime(headers["Last-Modified"]).timestamp(), "Last-Modified")
    write(seeds, "later.txt", make_doc(3))
    poll_until(lambda: "later" in ids(server.get("/feed.atom")[2]), "a later file")
    assert server.get("/feed.atom", {"If-Modified-Since": headers["Last-Modified"]})[0] == 200
    assert "future" in server.log.read_text() and "in the future" in server.log.read_text()


# -- what a subscriber sees in a bilingual feed ---------------------------------------------------


async def test_titles_carry_both_headlines_in_the_bilingual_feeds(seeds: Path, state: Path, start_app: Any) -> None:
    shutil.copy(SEED, seeds)
    client = await start_app(seeds, state)
    uk, en = "володимир путін і Кім Чен Ин зустрілися", "vladimir putin and Kim Jong Un meet"
    for path in FEEDS:
        body = (await fetch(client, path))[2]
        if path.endswith(".json"):
            title = json.loads(body)["items"][0]["title"]
        else:
            title = parse(body).entries[0].title
        if path.startswith("/en/"):
            assert title.startswith(en) and uk not in title, path
        elif path.startswith("/uk/"):
            assert title.startswith(uk) and en not in title, path
        else:  # primary language first, one separator
            assert re.fullmatch(f"{uk}.* / {en}.*", title), (path, title)


def _sentences(html_text: str) -> list[str]:
    text = lxml.html.fragment_fromstring(html_text, create_parent="div")
    for block in text.iter("p", "h2", "h3"):
        block.tail = (block.tail or "") + "\n"
    found = []
    for paragraph in text.text_content().split("\n"):
        found += [s.strip() for s in pysbd.Segmenter(language="en", clean=False).segment(paragraph) if s.strip()]
    return found


async def test_no_sentence_appears_twice_in_any_entry(seeds: Path, state: Path, start_app: Any) -> None:
    shutil.copy(SEED, seeds)
    for n in range(3):
        write(seeds, f"d{n}.txt", make_doc(n))
    client = await start_app(seeds, state)
    checked = 0
    for path in FEEDS:
        body = (await fetch(client, path))[2]
        if path.endswith(".json"):
            texts = [(i["id"], i["content_html"], i.get("summary", "")) for i in json.loads(body)["items"]]
        else:
            texts = [(e.id, e.content[0].value, e.get("summary", "")) for e in parse(body).entries]
        for entry, content, summary in texts:
            for shown in (_sentences(content), [s for p in summary.split("\n\n") for s in _sentences(f"<p>{p}</p>")]):
                repeated = {s for s in shown if shown.count(s) > 1 and len(s) > 20}
                assert not repeated, (path, entry, repeated)
                checked += 1
    assert checked == 2 * 9 * 4


async def test_parts_are_labelled_and_the_atom_summary_carries_both(seeds: Path, state: Path, start_app: Any) -> None:
    """Readers strip lang attributes (Miniflux) or show only <summary> (rss2email, plain text)."""
    shutil.copy(SEED, seeds)
    client = await start_app(seeds, state)
    entry = parse((await fetch(client, "/feed.atom"))[2]).entries[0]
    assert entry.summary.startswith("Українською: Лідери росії та Північної Кореї")
    assert "\n\nIn English: The leaders of Russia and North Korea met" in entry.summary
    content = lxml.html.fragment_fromstring(entry.content[0].value, create_parent="div").text_content()
    assert content.index("Українською") < content.index("Лідери росії") < content.index("In English") \
        < content.index("The leaders of Russia")
    rss = parse((await fetch(client, "/feed.rss"))[2]).entries[0]
    assert "Українською" in rss.summary and "In English" in rss.summary
    for path in ("/en/feed.atom", "/uk/feed.atom"):  # one language: no labels needed, none shown
        single = parse((await fetch(client, path))[2]).entries[0]
        assert "Українською" not in single.content[0].value and "In English" not in single.content[0].value


async def test_an_english_headline_without_english_text_stays_out_of_the_english_feeds(
        seeds: Path, state: Path, start_app: Any) -> None:
    shutil.copy(SEED, seeds)
    write(seeds, "headline-only.txt", "Reuters.- 02.03.2024\n\nJane Doe\n\n## Allies pledge new aid to Ukraine\n\n"
          "## Союзники пообіцяли Україні нову допомогу\n\nСоюзники пообіцяли нову допомогу. Це важливо. "
          "https://example.com/aid\n")
    client = await start_app(seeds, state)
    for path in FEEDS:
        found = ids((await fetch(client, path))[2])
        assert SEED_ID in found
        assert ("headline-only" in found) == (not path.startswith("/en/")), path
    title = parse((await fetch(client, "/feed.atom"))[2]).entries[0].title
    assert title == "Союзники пообіцяли Україні нову допомогу / Allies pledge new aid to Ukraine"


async def test_an_english_edit_leaves_the_ukrainian_feeds_byte_identical(seeds: Path, state: Path,
                                                                         start_app: Any) -> None:
    write(seeds, "a.txt", make_doc(1))
    write(seeds, "b.txt", make_doc(2))
    client = await start_app(seeds, state)
    before = {path: await fetch(client, path) for path in FEEDS}
    write(seeds, "a.txt", make_doc(1, body="The article was rewritten in English only. Nothing else moved.\n\n"
                                          "Its second paragraph is new as well."))

    # Each feed goes on the shelf as soon as it is rendered: wait for every feed the edit shows in.
    touched = [path for path in FEEDS if not path.startswith("/uk/")]

    async def english_changed() -> bool:
        bodies = [(await fetch(client, path))[2] for path in touched]
        return all(body != before[path][2] for path, body in zip(touched, bodies))
    await poll_until_async(english_changed, what="the English edit in the bilingual and English feeds")
    for path in FEEDS:
        if path.startswith("/uk/"):
            _status, headers, body = await fetch(client, path)
            assert body == before[path][2] and headers["ETag"] == before[path][1]["ETag"], path
    uk_entry = next(e for e in parse((await fetch(client, "/uk/feed.atom"))[2]).entries if doc_id(e.id) == "a")
    old_uk = next(e for e in parse(before["/uk/feed.atom"][2]).entries if doc_id(e.id) == "a")
    assert uk_entry.updated == old_uk.updated


async def test_json_authors_icons_and_categories(seeds: Path, state: Path, start_app: Any) -> None:
    write(seeds, "ap.txt", make_doc(1).replace("Reuters.- 13.09.2023", "AP.- 13.09.2023"))
    write(seeds, "ap2.txt", make_doc(2).replace("Reuters.- 13.09.2023", "Associated Press - 14.09.2023"))
    client = await start_app(seeds, state)
    feed = json.loads((await fetch(client, "/feed.json"))[2])
    assert feed["author"] == {"name": "feedsvc editorial team"} and feed["authors"] == [feed["author"]]
    assert feed["icon"].endswith("/icon.png") and feed["favicon"].endswith("/favicon.png")
    for item in feed["items"]:
        assert item["author"] == {"name": "Jane Doe, John Roe"}, "JSON Feed 1.0 clients read author"
        assert item["authors"] == [{"name": "Jane Doe"}, {"name": "John Roe"}]
        assert item["tags"] == ["Associated Press"], "AP and Associated Press are one publication"
    atom = parse((await fetch(client, "/feed.atom"))[2])
    assert atom.feed.icon.endswith("/icon.png") and atom.feed.logo.endswith("/logo.png")
    assert {t.term for e in atom.entries for t in e.tags} == {"Associated Press"}
    rss = parse((await fetch(client, "/feed.rss"))[2])
    assert rss.feed.image.href.endswith("/logo.png")
    for path, media, magic in (("/favicon.ico", "image/x-icon", b"\x00\x00\x01\x00"),
                               ("/icon.png", "image/png", b"\x89PNG"), ("/favicon.png", "image/png", b"\x89PNG"),
                               ("/logo.png", "image/png", b"\x89PNG")):
        status, headers, body = await fetch(client, path)
        assert status == 200 and headers["Content-Type"] == media and body.startswith(magic), path
        assert (await fetch(client, path, **{"If-None-Match": headers["ETag"]}))[0] == 304


# -- the home page and consistency ------------------------------------------------------------------


async def test_home_page_subscribe_links_first_and_older_pages(seeds: Path, state: Path, start_app: Any) -> None:
    for n in range(45):
        write(seeds, f"d{n:02d}.txt", make_doc(n))
    client = await start_app(seeds, state)
    pages = []
    for url in ("/", "/?page=2", "/?page=3"):
        status, _, body = await fetch(client, url)
        assert status == 200, url
        root = lxml.html.document_fromstring(body)
        text = root.text_content()
        assert text.index("Підписатися") < text.index("Стаття іноземної преси"), "subscribe links come first"
        pages.append([a.get("id") for a in root.xpath("//article")])
    assert [len(p) for p in pages] == [20, 20, 5]
    assert len({i for p in pages for i in p}) == 45, "every digest is reachable from the page"
    assert (await fetch(client, "/?page=4"))[0] == 404


def test_variants_never_show_a_newer_state_than_the_default_feed(seeds: Path, state: Path,
                                                                  server_factory: Any) -> None:
    """During a burst, a ?limit= page fetched just before the default feed never holds a digest the
    default feed does not: both come from one published state."""
    write(seeds, "a.txt", make_doc(0))
    server = server_factory(seeds, state)
    for n in range(1, 41):
        write(seeds, f"burst-{n:02d}.txt", make_doc(n))
        for path in ("/feed.atom", "/uk/feed.json"):
            variant = ids(server.get(f"{path}?limit=49")[2])
            default = ids(server.get(path)[2])
            assert variant <= default, (path, variant - default)


def test_feedparser_over_http_sees_published_and_updated(seeds: Path, state: Path, server_factory: Any) -> None:
    write(seeds, "a.txt", make_doc(1))
    server = server_factory(seeds, state)
    with urllib.request.urlopen(server.url + "/feed.atom") as response:
        entry = parse(response.read()).entries[0]
    published_at = dt.datetime(*entry.published_parsed[:6], tzinfo=UTC)
    updated_at = dt.datetime(*entry.updated_parsed[:6], tzinfo=UTC)
    past_the_second(max(published_at, updated_at).timestamp(), "the entry's published and updated")  # whole seconds
    write(seeds, "a.txt", make_doc(1, en="Corrected headline about the war"))
    poll_until(lambda: b"Corrected headline" in server.get("/feed.atom")[2], "the correction")
    edited = parse(server.get("/feed.atom")[2]).entries[0]
    assert dt.datetime(*edited.published_parsed[:6], tzinfo=UTC) == published_at, "published never moves"
    assert edited.updated_parsed > entry.updated_parsed and edited.id == entry.id

