"""The shipped nginx edge (docs/edge/nginx.conf, unchanged) in front of two real feedsvc replicas
over one seeds folder: the replicas answer byte for byte alike, so either may revalidate a copy;
the edge caches, revalidates by ETag, passes gzip on, cannot be poisoned through Host, and shows a
new digest within seconds although readers are told max-age=300."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT, make_doc, poll_until, require_tool, write
from helpers.feeds import FEEDS, ids
from helpers.servers import Server, free_port, http_get

EDGE = ROOT / "docs" / "edge"
PATHS = (*FEEDS, "/", "/feed.atom?limit=2", "/uk/feed.json?page=2&limit=1", "/topics", "/feeds.opml",
         "/search?q=article")


class Edge:
    """nginx running the shipped nginx.conf, with its own listen.conf and upstream.conf."""

    def __init__(self, upstreams: list[int], port: int) -> None:
        self.port = port
        # Not under pytest's folders: as root nginx's workers run as nobody, who must enter this one.
        self.prefix = Path(tempfile.mkdtemp(prefix="feedsvc-edge-"))
        os.chmod(self.prefix, 0o755)
        shutil.copy(EDGE / "nginx.conf", self.prefix / "nginx.conf")
        (self.prefix / "listen.conf").write_text(f"listen 127.0.0.1:{self.port};\n")
        servers = "".join(f"    server 127.0.0.1:{port};\n" for port in upstreams)
        (self.prefix / "upstream.conf").write_text(f"upstream feedsvc {{\n{servers}    keepalive 8;\n}}\n")
        self.proc = subprocess.Popen(
            [require_tool("nginx"), "-p", f"{self.prefix}/", "-c", str(self.prefix / "nginx.conf"),
             "-e", str(self.prefix / "error.log"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        poll_until(self._answers, f"nginx on {self.port}: {self._errors()}")

    def _answers(self) -> bool:
        try:
            return self.get("/healthz")[0] == 200
        except OSError:  # not listening yet
            return False

    def _errors(self) -> str:
        log = self.prefix / "error.log"
        return log.read_text()[-2000:] if log.exists() else "(no error log)"

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        return http_get(f"http://127.0.0.1:{self.port}{path}", headers)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.prefix, ignore_errors=True)


@pytest.fixture
def replicas(seeds: Path, tmp_path: Path, server_factory: Any) -> Iterator[tuple[Server, Server, int]]:
    """Two replicas over one seeds folder, each with its own state, both naming the edge's address."""
    for n in range(1, 6):
        write(seeds, f"doc{n}.txt", make_doc(n, date=f"0{n}.10.2025"))
    edge_port = free_port()
    base = ["--base-url", f"http://127.0.0.1:{edge_port}"]
    a = server_factory(seeds, tmp_path / "state-a", *base)
    b = server_factory(seeds, tmp_path / "state-b", *base)
    yield a, b, edge_port


def _shows(server: Server | Edge, doc: str) -> bool:
    return doc in ids(server.get("/feed.atom")[2])


def _differs(server: Server, path: str, old: bytes) -> bool:
    return server.get(path)[2] != old


def _wait_same(a: Server, b: Server, path: str) -> None:
    poll_until(lambda: a.get(path)[2] == b.get(path)[2], f"both replicas to show the same {path}")


def test_two_replicas_answer_byte_for_byte_alike(replicas: tuple[Server, Server, int], seeds: Path) -> None:
    a, b, _ = replicas
    for step in ("start", "new digest", "edited", "deleted"):
        before = {path: a.get(path)[2] for path in (*FEEDS, "/")}
        if step == "new digest":
            write(seeds, "doc6.txt", make_doc(6, date="06.10.2025"))
        elif step == "edited":
            write(seeds, "doc2.txt", make_doc(2, date="02.10.2025", en="An edited English summary, first sentence.",
                                              uk="Змінений український підсумок, перше речення."))
        elif step == "deleted":
            (seeds / "doc3.txt").unlink()
        if step != "start":  # every view shows the change on both, then they are compared
            for server in (a, b):
                for path, old in before.items():
                    poll_until(partial(_differs, server, path, old), f"{path} on {server.url}: the {step}")
        for path in PATHS:
            for encoding in ("identity", "gzip"):
                asked = {"Accept-Encoding": encoding}
                sa, ha, body_a = a.get(path, asked)
                sb, hb, body_b = b.get(path, asked)
                assert (sa, body_a) == (sb, body_b) and sa == 200, (step, path, encoding, sa, sb)
                for name in ("ETag", "Last-Modified", "Content-Type", "Cache-Control", "Link"):
                    assert ha.get(name) == hb.get(name), (step, path, encoding, name, ha.get(name), hb.get(name))
                # A copy revalidated at the other replica is still good: one ETag space for both.
                if "ETag" in ha:
                    assert b.get(path, {**asked, "If-None-Match": ha["ETag"]})[0] == 304, (step, path)
                    assert a.get(path, {**asked, "If-None-Match": hb["ETag"]})[0] == 304, (step, path)
    assert "doc6" in ids(a.get("/feed.atom")[2]) and "doc3" not in ids(b.get("/feed.atom")[2])


def test_replicas_agree_on_a_copy_that_kept_an_old_mtime(replicas: tuple[Server, Server, int], seeds: Path,
                                                         tmp_path: Path, server_factory: Any) -> None:
    """rsync -a and cp -p keep the source's old mtime, so the service dates such a digest by when
    it arrived; a replica that sees it later (it was restarting) must still give it the same date."""
    a, b, edge_port = replicas
    b.stop()
    staged = tmp_path / "staged.txt"
    staged.write_text(make_doc(8, date="01.02.2020"))
    os.utime(staged, (1_580_000_000, 1_580_000_000))  # January 2020, as rsync -a leaves it
    os.rename(staged, seeds / "doc8.txt")  # rsync's last step: the rename into place
    poll_until(partial(_shows, a, "doc8"), "the copied digest on the first replica")
    time.sleep(2.0)  # the second replica comes back and sees the file seconds later
    b = server_factory(seeds, tmp_path / "state-b", "--base-url", f"http://127.0.0.1:{edge_port}")
    poll_until(partial(_shows, b, "doc8"), "the copied digest on the restarted replica")
    for path in (*FEEDS, "/"):
        assert a.get(path)[2] == b.get(path)[2], path
    atom = a.get("/feed.atom")[2].decode()
    assert "2020-01" not in atom.split("doc8", 1)[1].split("</entry>", 1)[0], "dated by arrival, not the old mtime"


def test_the_shipped_edge_caches_revalidates_and_follows_changes(replicas: tuple[Server, Server, int],
                                                                 seeds: Path) -> None:
    a, b, edge_port = replicas
    _wait_same(a, b, "/feed.atom")
    edge = Edge([a.port, b.port], edge_port)
    try:
        status, first, body = edge.get("/feed.atom")
        assert status == 200 and body == a.get("/feed.atom")[2]
        assert first["Cache-Control"] == "public, max-age=300, s-maxage=1"  # readers keep 300 s
        status, again, _ = edge.get("/feed.atom")
        assert again["X-Cache-Status"] == "HIT" and again["ETag"] == first["ETag"]
        # A reader's own validator is answered by the edge, from the cache.
        status, conditional, empty = edge.get("/feed.atom", {"If-None-Match": first["ETag"]})
        assert status == 304 and empty == b"" and conditional["X-Cache-Status"] == "HIT"
        # gzip goes through as feedsvc made it: the same bytes and ETag as from a replica.
        for accept in ("gzip", "br, gzip;q=0.8", "gzip, deflate"):
            status, zipped, packed = edge.get("/feed.atom", {"Accept-Encoding": accept})
            direct = a.get("/feed.atom", {"Accept-Encoding": "gzip"})
            assert zipped.get("Content-Encoding") == "gzip" and packed == direct[2], accept
            assert zipped["ETag"] == direct[1]["ETag"] and gzip.decompress(packed) == body
        assert "Content-Encoding" not in edge.get("/feed.atom", {"Accept-Encoding": "br"})[1]
        # Host and X-Forwarded-Host are not in the key, and feedsvc builds links from its base URL.
        poisoned = edge.get("/feed.rss?limit=3", {"Host": "evil.example", "X-Forwarded-Host": "evil.example"})[2]
        assert b"evil.example" not in poisoned and b"evil.example" not in edge.get("/feed.rss?limit=3")[2]
        assert f"127.0.0.1:{edge_port}/feed.rss".encode() in poisoned
        # Neither health nor the hub's form is cached.
        for _ in range(2):
            assert edge.get("/healthz")[1].get("X-Cache-Status") != "HIT"

        # A new digest of an older article: on page 1 through the edge within seconds, not 300 s.
        write(seeds, "doc7.txt", make_doc(7, date="01.01.2019"))
        for server in (a, b):
            poll_until(partial(_shows, server, "doc7"), f"the new digest on {server.url}")
        poll_until(lambda: "doc7" in ids(edge.get("/feed.atom")[2]), "the new digest through the edge", timeout=15)
        # The edge revalidated (If-None-Match upstream), so its copy is the replicas' bytes again.
        status, now, fresh = edge.get("/feed.atom")
        assert fresh == a.get("/feed.atom")[2] and now["ETag"] == a.get("/feed.atom")[1]["ETag"]

        # One replica gone: the other answers, with the same ETag, so readers' validators hold.
        etag = now["ETag"]
        a.stop(signal.SIGKILL)
        time.sleep(1.5)  # past s-maxage: the edge must go upstream, to whichever replica is left
        assert edge.get("/feed.atom", {"If-None-Match": etag})[0] == 304
        status, after, fresh = edge.get("/feed.atom")
        assert status == 200 and after["ETag"] == etag and fresh == b.get("/feed.atom")[2]
    finally:
        edge.stop()


def test_a_changed_feed_replaces_the_edges_copy_at_once(seeds: Path, tmp_path: Path, server_factory: Any) -> None:
    """With FEEDSVC_EDGE_REFRESH, feedsvc fetches a changed feed through the edge with the refresh
    header, which replaces the cached copy: a shared cache told to keep copies for two minutes
    still shows the new digest at once, in both encodings."""
    write(seeds, "doc1.txt", make_doc(1))
    port = free_port()
    server = server_factory(seeds, tmp_path / "state", "--base-url", f"http://127.0.0.1:{port}",
                            "--shared-max-age", "120", "--edge-refresh", f"http://127.0.0.1:{port}")
    edge = Edge([server.port], port)
    try:
        for encoding in ("identity", "gzip"):
            edge.get("/feed.atom", {"Accept-Encoding": encoding})
            assert edge.get("/feed.atom", {"Accept-Encoding": encoding})[1]["X-Cache-Status"] == "HIT"
        assert edge.get("/feed.atom")[1]["Cache-Control"] == "public, max-age=300, s-maxage=120"
        write(seeds, "doc2.txt", make_doc(2, date="01.01.2019"))
        poll_until(partial(_shows, edge, "doc2"), "the new digest through the edge", timeout=10)
        status, headers, packed = edge.get("/feed.atom", {"Accept-Encoding": "gzip"})
        assert status == 200 and headers["X-Cache-Status"] == "HIT" and "doc2" in ids(gzip.decompress(packed))
        # The refresh header must say exactly 1 (and come from loopback or a private network).
        assert edge.get("/feed.atom", {"X-Feedsvc-Refresh": "yes"})[1]["X-Cache-Status"] == "HIT"
        assert edge.get("/feed.atom", {"X-Feedsvc-Refresh": "1"})[1]["X-Cache-Status"] == "BYPASS"
    finally:
        edge.stop()
