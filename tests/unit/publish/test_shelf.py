"""The shelf of published bytes: Rendered.build's validators and headers, and the Shelf's swaps and LRU."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import os

import pytest

from feedsvc.publish.shelf import Rendered, Shelf

UPDATED = dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)
EXTRA = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}


def build(body: bytes = b"<feed>one</feed>", updated: dt.datetime = UPDATED) -> Rendered:
    return Rendered.build(body, "application/atom+xml; charset=utf-8", updated, EXTRA)


# -- Rendered.build ---------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"<feed>one</feed>", "Стаття".encode() * 1000])
def test_etag_is_the_first_32_hex_digits_of_the_body_sha256(body: bytes) -> None:
    rendered = build(body)
    expected = hashlib.sha256(body).hexdigest()[:32]
    assert rendered.etag == expected
    assert rendered.headers["ETag"] == f'"{expected}"'
    assert rendered.headers_gzip["ETag"] == f'"{expected}-gzip"'


def test_different_bodies_get_different_etags() -> None:
    assert build(b"<feed>one</feed>").etag != build(b"<feed>two</feed>").etag


def test_both_etags_are_in_quoted() -> None:
    rendered = build()
    assert rendered.quoted == frozenset({rendered.headers["ETag"], rendered.headers_gzip["ETag"]})
    assert len(rendered.quoted) == 2


def test_gzip_bytes_are_identical_across_calls_and_carry_no_mtime() -> None:
    body = b"<rss>" + b"entry " * 500 + b"</rss>"
    first, second = build(body), build(body, UPDATED + dt.timedelta(days=1))
    assert first.gzipped == second.gzipped
    assert gzip.decompress(first.gzipped) == body
    # RFC 1952: bytes 4-7 are MTIME; zero keeps replicas' gzip bytes (and the gzip ETag) equal.
    assert first.gzipped[4:8] == b"\x00\x00\x00\x00"


def test_last_modified_drops_microseconds() -> None:
    rendered = build()
    assert rendered.last_modified == UPDATED.replace(microsecond=0)
    assert rendered.last_modified.microsecond == 0
    assert rendered.headers["Last-Modified"] == "Tue, 02 Jan 2024 03:04:05 GMT"
    assert rendered.headers_gzip["Last-Modified"] == rendered.headers["Last-Modified"]


def test_content_encoding_only_on_the_gzip_headers() -> None:
    rendered = build()
    assert "Content-Encoding" not in rendered.headers
    assert rendered.headers_gzip.getall("Content-Encoding") == ["gzip"]


def test_common_and_extra_headers_on_both_forms() -> None:
    rendered = build()
    for headers in (rendered.headers, rendered.headers_gzip):
        assert headers["Content-Type"] == "application/atom+xml; charset=utf-8"
        assert headers["Vary"] == "Accept-Encoding"
        for name, value in EXTRA.items():
            assert headers.getall(name) == [value]
        assert len(headers.getall("ETag")) == 1


def test_headers_cannot_be_changed_by_the_request_path() -> None:
    rendered = build()
    with pytest.raises(TypeError):
        rendered.headers["ETag"] = '"other"'  # type: ignore[index]


# -- Shelf ------------------------------------------------------------------------------------


def test_a_new_shelf_is_empty() -> None:
    shelf = Shelf()
    assert shelf.generation == -1
    assert shelf.default("/feed.atom") is None
    assert shelf.extra("anything") is None


def test_publish_replaces_only_the_given_defaults() -> None:
    shelf = Shelf()
    atom, rss, home = build(b"atom 1"), build(b"rss 1"), build(b"home 1")
    shelf.publish(1, {"/feed.atom": atom, "/feed.rss": rss, "/": home})
    new_atom, new_home = build(b"atom 2"), build(b"home 2")
    shelf.publish(2, {"/feed.atom": new_atom, "/": new_home})
    assert shelf.generation == 2
    assert shelf.default("/feed.atom") is new_atom
    assert shelf.default("/") is new_home
    assert shelf.default("/feed.rss") is rss, "a default not in the new state stays published"
    assert shelf.default("/en/feed.atom") is None


def test_publish_does_not_change_the_mapping_it_was_given() -> None:
    shelf = Shelf()
    given = {"/feed.atom": build(b"atom")}
    shelf.publish(1, given)
    shelf.publish(2, {"/feed.rss": build(b"rss")})
    assert set(given) == {"/feed.atom"}


def test_publish_clears_extras() -> None:
    shelf = Shelf()
    shelf.publish(1, {"/feed.atom": build(b"atom")})
    page = build(b"page 2")
    shelf.put_extra(("/feed.atom", 2), page, 1)
    assert shelf.extra(("/feed.atom", 2)) is page
    shelf.publish(2, {})
    assert shelf.extra(("/feed.atom", 2)) is None
    assert shelf.default("/feed.atom") is not None


@pytest.mark.parametrize("stale", [0, 2, -1])
def test_put_extra_ignores_a_stale_generation(stale: int) -> None:
    shelf = Shelf()
    shelf.publish(1, {})
    shelf.put_extra("k", build(b"old state"), stale)
    assert shelf.extra("k") is None
    current = build(b"this state")
    shelf.put_extra("k", current, 1)
    assert shelf.extra("k") is current


def test_lru_evicts_the_least_recently_put() -> None:
    shelf = Shelf(extra_capacity=2)
    shelf.publish(0, {})
    a, b, c = build(b"a"), build(b"b"), build(b"c")
    shelf.put_extra("a", a, 0)
    shelf.put_extra("b", b, 0)
    shelf.put_extra("c", c, 0)
    assert shelf.extra("a") is None
    assert shelf.extra("b") is b
    assert shelf.extra("c") is c


def test_extra_refreshes_recency() -> None:
    shelf = Shelf(extra_capacity=2)
    shelf.publish(0, {})
    a, b, c = build(b"a"), build(b"b"), build(b"c")
    shelf.put_extra("a", a, 0)
    shelf.put_extra("b", b, 0)
    assert shelf.extra("a") is a  # now "b" is the least recently used
    shelf.put_extra("c", c, 0)
    assert shelf.extra("b") is None
    assert shelf.extra("a") is a
    assert shelf.extra("c") is c


def test_a_miss_does_not_count_as_use() -> None:
    shelf = Shelf(extra_capacity=1)
    shelf.publish(0, {})
    a = build(b"a")
    shelf.put_extra("a", a, 0)
    assert shelf.extra("missing") is None
    assert shelf.extra("a") is a


def test_putting_an_existing_key_replaces_it_without_growing() -> None:
    shelf = Shelf(extra_capacity=2)
    shelf.publish(0, {})
    a1, a2, b = build(b"a1"), build(b"a2"), build(b"b")
    shelf.put_extra("a", a1, 0)
    shelf.put_extra("b", b, 0)
    shelf.put_extra("a", a2, 0)
    assert shelf.extra("a") is a2
    assert shelf.extra("b") is b


def test_variants_are_bounded_by_bytes_not_only_by_count() -> None:
    """A ?limit=500 page is megabytes: 256 of them must not stay on the shelf."""
    shelf = Shelf(extra_capacity=256, extra_bytes=1_000_000)
    shelf.publish(1, {})
    big = os.urandom(100_000)  # incompressible: the gzip form is as large, 200 KB in all
    for n in range(40):
        shelf.put_extra(("page", n), Rendered.build(big + bytes([n]), "text/plain", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), {}), 1)
        assert shelf.extra_bytes <= 1_000_000
    assert shelf.extra(("page", 39)) is not None and shelf.extra(("page", 0)) is None
    shelf.put_extra("huge", Rendered.build(os.urandom(400_000), "text/plain", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), {}), 1)
    assert shelf.extra("huge") is None, "a page over a quarter of the budget is not kept"
    shelf.publish(2, {})
    assert shelf.extra_bytes == 0
