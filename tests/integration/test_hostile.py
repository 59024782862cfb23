"""Hostile requests: traversal, oversize, odd methods and parameters; nothing leaks, nothing 5xx.

The in-process app is reached with raw sockets where aiohttp's client would normalise the path;
the server's own limits (URL, header sizes) are exercised against a real `feedsvc serve`.
docs/openapi.yaml is checked against the routes in unit/http/test_openapi.py and fuzzed with
schemathesis (no 5xx) in system/test_schemathesis.py.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from helpers import SECRET, SEED, make_doc, write
from helpers.feeds import FEEDS, ids

LEAKS = ("Traceback", 'File "', "/work", "root:x:0:0", SECRET, "site-packages", "Index of", "<title>Directory")
OUR_TYPES = ("application/atom+xml", "application/rss+xml", "application/feed+json", "text/html",
             "application/json", "text/plain")

TRAVERSALS = [
    "/../../../../etc/passwd", "/..%2f..%2f..%2fetc%2fpasswd", "/%2e%2e/%2e%2e/etc/passwd",
    "/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/%252e%252e%252fetc%252fpasswd", "/..%252f..%252fetc/passwd",
    "/..\\..\\..\\etc\\passwd", "/%5c..%5c..%5cetc%5cpasswd", "/feed.atom/../../etc/passwd",
    "/feed.atom/..%2f..%2fetc/passwd", "/en/../../secret.txt", "/en/..%2f..%2fsecret.txt", "/../secret.txt",
    "/seeds/000_1376dc493dc06474.txt", "/000_1376dc493dc06474.txt", "/..;/secret.txt", "/%c0%ae%c0%ae/secret.txt",
    "/%uff0e%uff0e/secret.txt", "/.%00./secret.txt", "/feed.atom%00.txt", "/feed.atom%2500", "//etc/passwd",
    "/./././feed.atom/../../../../proc/self/environ", "/proc/self/cwd/feedsvc/app.py", "/uk/%2e%2e/%2e%2e/state",
    "/state/index.sqlite3", "/.git/config", "/feedsvc/", "/tests/", "/seeds/", "/static/", "/en/", "/uk/",
    "/feed.atom/", "/feed.atom;jsessionid=1", "/feed.atom%3f", "/%2f%2fetc/passwd", "/file:///etc/passwd",
]


@pytest.fixture
async def client(seeds: Path, state: Path, tmp_path: Path, start_app: Any) -> Any:
    shutil.copy(SEED, seeds)
    write(seeds, "a.txt", make_doc(1))
    write(tmp_path, "secret.txt", SECRET)  # beside seeds/, where ../ would land
    return await start_app(seeds, state)


async def raw(host: str, port: int, request: bytes, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are; return the status, headers and body of the first response (0 if none)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        data = await asyncio.wait_for(_read_all(reader), timeout)
    except (ConnectionResetError, BrokenPipeError):
        data = b""
    finally:
        writer.close()
    return split_response(data)


async def _read_all(reader: asyncio.StreamReader) -> bytes:
    chunks = []
    try:
        while chunk := await reader.read(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def split_response(data: bytes) -> tuple[int, dict[str, str], bytes]:
    if not data.startswith(b"HTTP/"):
        return 0, {}, data
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


def get(path: str, *, method: str = "GET", extra: str = "") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: feeds.test\r\n{extra}Connection: close\r\n\r\n".encode("latin-1")


def assert_no_leak(path: str, body: bytes, tmp: Path) -> None:
    text = body.decode("utf-8", "replace")
    for leak in (*LEAKS, str(tmp)):
        assert leak not in text, f"{path}: response contains {leak!r}: {text[:300]}"


def assert_ours(path: str, status: int, headers: dict[str, str], body: bytes) -> None:
    assert status < 500, (path, status, body[:300])
    if status == 200:
        ctype = headers.get("content-type", "")
        assert ctype.startswith(OUR_TYPES), (path, ctype)
        assert body.startswith((b"<?xml", b"{", b"<!DOCTYPE html", b"<!doctype html")), (path, body[:100])
    elif status >= 400 and status != 405 and body:
        if body.startswith(b"{"):  # our errors: JSON
            error = json.loads(body)
            assert error["status"] == status and error["error"], (path, body)
        else:  # aiohttp's own, for paths no route knows: the status line and nothing else
            assert re.fullmatch(rb"%d: [A-Za-z ]+" % status, body), (path, body)


async def test_path_traversal_reaches_nothing(client: Any, tmp_path: Path) -> None:
    host, port = client.server.host, client.server.port
    for path in TRAVERSALS:
        status, headers, body = await raw(host, port, get(path))
        assert status, f"{path}: no HTTP response"
        assert_ours(path, status, headers, body)
        assert_no_leak(path, body, tmp_path)
        if status == 200:
            assert "passwd" not in path.lower() or b"root:" not in body
        else:
            assert 400 <= status < 500, (path, status)
    # And through the client, which normalises: the same rule.
    for path in TRAVERSALS[:12]:
        response = await client.get(path)
        body = await response.read()
        assert_ours(path, response.status, {k.lower(): v for k, v in response.headers.items()}, body)
        assert_no_leak(path, body, tmp_path)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "POST", "PROPFIND", "MKCOL", "TRACE",
                                    "CONNECT"])
async def test_unknown_methods_get_405_with_allow(client: Any, tmp_path: Path, method: str) -> None:
    for path in ("/feed.atom", "/uk/feed.json", "/", "/healthz", "/nowhere"):
        target = "feeds.test:80" if method == "CONNECT" else path
        status, headers, body = await raw(client.server.host, client.server.port,
                                          get(target, method=method, extra="Content-Length: 0\r\n"))
        if method == "CONNECT":
            assert 400 <= status < 500, (method, status)
            continue
        if path == "/nowhere":  # no such resource, whatever the method
            assert status == 404, (method, path, status, body[:200])
        else:
            assert status == 405, (method, path, status, body[:200])
            assert "GET" in headers.get("allow", ""), (method, path, headers)
        assert_no_leak(path, body, tmp_path)


@pytest.mark.parametrize("token", ["G@RBAGE", "GET\x01", "\x00GET", "GE T", "{}", "ÄGET"])
async def test_invalid_method_tokens_get_400(client: Any, tmp_path: Path, token: str) -> None:
    request = f"{token} /feed.atom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode("latin-1")
    status, _, body = await raw(client.server.host, client.server.port, request)
    assert status == 400, (token, status, body[:200])
    assert_no_leak(token, body, tmp_path)


BAD_VALUES = ["0", "501", "-1", "abc", "1e3", "1.5", " 1", "1 ", "0x10", "٣", "１", "%00", "", "9999999",
              "99999999999999999999999999", "1;2", "+1", "NaN", "[]", "%F0%9F%98%80", "%ff"]


async def test_bad_limit_and_page_get_json_400(client: Any, tmp_path: Path) -> None:
    host, port = client.server.host, client.server.port
    for path in FEEDS:
        for name in ("limit", "page"):
            for value in BAD_VALUES:
                if name == "page" and value in ("501", "9999999"):
                    continue  # in range for page: 404 past the end, checked below
                status, headers, body = await raw(host, port, get(f"{path}?{name}={quote(value, safe='%')}"))
                assert status == 400, (path, name, value, status, body[:200])
                assert headers["content-type"].startswith("application/json"), headers
                error = json.loads(body)
                assert error["status"] == 400 and name in error["error"], error
                assert_no_leak(path, body, tmp_path)
        status, _, body = await raw(host, port, get(f"{path}?page=9999"))
        assert status == 404 and json.loads(body)["status"] == 404
        status, _, body = await raw(host, port, get(f"{path}?limit=1&page=2&limit=500&unknown=%00&page=1"))
        assert status in (200, 404), (path, status)


async def test_html_security_headers_and_no_listing(client: Any, tmp_path: Path) -> None:
    for path in ("/", "/index.html"):
        response = await client.get(path)
        assert response.status == 200
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        body = await response.read()
        assert b"<script" not in body.lower()
        assert_no_leak(path, body, tmp_path)
    for path in ("/seeds", "/seeds/", "/state/", "/feedsvc/", "/tests/", "/docs/", "/.git/", "/static/"):
        response = await client.get(path)
        body = await response.read()
        assert response.status == 404, path
        assert_no_leak(path, body, tmp_path)
    for path in FEEDS:
        response = await client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_hostile_headers_in_process(client: Any, tmp_path: Path) -> None:
    """Forwarded-host tricks, odd conditionals and encodings: never 5xx, never reflected as markup."""
    evil = {"X-Forwarded-Host": "evil.test\"><script>", "X-Forwarded-Proto": "javascript",
            "If-None-Match": "\"" + "x" * 4000 + "\", W/\"\", *x", "If-Modified-Since": "yesterday, 99 Foo 0000",
            "Accept-Encoding": "gzip;q=abc, *;q=-1, br", "Host": "evil.test:99999"}
    for path in (*FEEDS, "/"):
        for name, value in evil.items():
            status, _headers, body = await raw(client.server.host, client.server.port,
                                              get(path, extra=f"{name}: {value}\r\n") if name != "Host" else
                                              f"GET {path} HTTP/1.1\r\nHost: {value}\r\nConnection: close\r\n\r\n"
                                              .encode())
            assert status in (200, 304, 400), (path, name, status)
            assert b"<script>" not in body and b"evil.test\"" not in body, (path, name)
            assert_no_leak(path, body, tmp_path)


# -- the server's own limits: a real process -----------------------------------------------

def _sync_raw(port: int, request: bytes, timeout: float = 3.0) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    return split_response(b"".join(chunks))


def test_oversized_requests_get_4xx(real_server: Any, tmp_path: Path) -> None:
    port = real_server.port
    cases = {
        "100 KB URL": get("/feed.atom/" + "a" * 100_000),
        "100 KB query": get("/feed.atom?limit=1&x=" + "b" * 100_000),
        "100 KB header": get("/feed.atom", extra="X-Big: " + "c" * 100_000 + "\r\n"),
        "1 MB header": get("/feed.atom", extra="X-Big: " + "c" * 1_000_000 + "\r\n"),
        "1000 headers": get("/feed.atom", extra="".join(f"X-H{i}: v\r\n" for i in range(1000))),
        "100 KB cookie": get("/", extra="Cookie: " + "k=v; " * 20_000 + "\r\n"),
        "huge body on GET": get("/feed.atom", extra="Content-Length: 100000000\r\n") + b"x" * 200_000,
        "chunked GET": get("/feed.atom", extra="Transfer-Encoding: chunked\r\n") + b"ffffffff\r\n" + b"x" * 1000,
        "bad HTTP version": b"GET /feed.atom HTTP/9.9\r\nHost: x\r\n\r\n",
        "no host, HTTP/1.0": b"GET /feed.atom HTTP/1.0\r\n\r\n",
        "header without colon": get("/feed.atom", extra="NoColonHere\r\n"),
        "obs-fold header": get("/feed.atom", extra="X-A: 1\r\n folded\r\n"),
        "NUL in path": b"GET /feed.atom\x00/../x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "absolute URI": get("http://evil.test/../../etc/passwd"),
        "asterisk": get("*"),
    }
    results = {}
    for name, request in cases.items():
        status, _headers, body = _sync_raw(port, request)
        results[name] = status
        assert status == 0 or status < 500, (name, status, body[:300])
        assert_no_leak(name, body, tmp_path)
    for name in ("100 KB URL", "100 KB query", "100 KB header", "1 MB header", "1000 headers", "100 KB cookie"):
        assert 400 <= results[name] < 500, (name, results[name])
    status, _, body = _sync_raw(port, get("/feed.atom"))
    assert status == 200 and ids(body), "still serving after the abuse"
    log = real_server.log.read_text(errors="replace")
    # Malformed requests get their 4xx and no log traceback: anyone could flood the log otherwise.
    assert "Traceback" not in log, log[-3000:]
    print("oversized/malformed request statuses:", results)


@pytest.mark.parametrize("trusted", [False, True], ids=["default", "behind a trusted proxy"])
def test_http10_without_host_keeps_the_port_in_self_links(seeds: Path, state: Path, server_factory: Any,
                                                          trusted: bool) -> None:
    """An HTTP/1.0 request may carry no Host; the links then name the bound address, port and all,
    also when it comes from a trusted proxy that sent no X-Forwarded-Host either."""
    shutil.copy(SEED, seeds)
    server = server_factory(seeds, state, *(["--trusted-proxies", "127.0.0.1"] if trusted else []))
    status, _headers, body = _sync_raw(server.port, b"GET /feed.atom HTTP/1.0\r\n\r\n")
    assert status == 200, body[:300]
    assert f'href="http://127.0.0.1:{server.port}/feed.atom"'.encode() in body, body[:1500]
    if trusted:  # what a trusted proxy names is used, with its port
        request = (b"GET /feed.atom HTTP/1.0\r\nX-Forwarded-Host: feeds.example:8443\r\n"
                   b"X-Forwarded-Proto: https\r\n\r\n")
        status, _headers, body = _sync_raw(server.port, request)
        assert status == 200 and b'href="https://feeds.example:8443/feed.atom"' in body, body[:1500]
