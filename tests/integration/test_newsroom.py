"""The newsroom's side: `feedsvc check`, /status(.json), /preview/{id}, visible corrections, access."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import lxml.html
from helpers import make_doc, poll_until, poll_until_async, write
from helpers.corpora import newsroom_folder
from helpers.feeds import fetch, parse


def check(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "feedsvc", "check", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_check_reports_file_and_line_in_the_compiler_convention(tmp_path: Path) -> None:
    lines = newsroom_folder(tmp_path)
    result = check(str(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout.splitlines()
    assert out[-1] == "8 files: 5 would be published (4 with warnings), 3 rejected"
    findings = {line.split(":", 1)[0].rsplit("/", 1)[-1]: line for line in out[:-1]}
    for name, number in lines.items():
        assert findings[name].startswith(f"{tmp_path / name}:{number}: warning: "), (name, findings[name])
    assert "date" in findings["bad-date.txt"] and "URL" in findings["no-url.txt"]
    assert "Russian" in findings["russian.txt"] and "control" in findings["control.txt"]
    for name in ("no-title.txt", "binary.txt", "large.txt"):
        assert ": error: " in findings[name], findings[name]
    assert "good.txt" not in findings


def test_check_exit_codes_strict_and_json(tmp_path: Path) -> None:
    write(tmp_path, "good.txt", make_doc(1))
    assert check(str(tmp_path / "good.txt")).returncode == 0
    write(tmp_path, "warned.txt", make_doc(2).replace("Reuters.- 13.09.2023", "Reuters.- soon"))
    ok = check(str(tmp_path))
    assert ok.returncode == 0 and "1 with warnings" in ok.stdout
    assert check("--strict", str(tmp_path)).returncode == 1
    records = [json.loads(line) for line in check("--json", str(tmp_path)).stdout.splitlines()]
    assert [r["state"] for r in records] == ["published", "published"]
    warned = next(r for r in records if r["path"].endswith("warned.txt"))
    assert warned["record"]["warnings"][0]["line"] == 1
    assert check(str(tmp_path / "missing.txt")).returncode == 2
    assert check().returncode == 2


def test_check_a_thousand_files_as_a_pre_commit_hook(tmp_path: Path) -> None:
    for n in range(1000):
        write(tmp_path / f"batch-{n // 100}", f"d{n:04d}.txt", make_doc(n))
    result = check(str(tmp_path))
    assert result.returncode == 0 and result.stdout.strip() == "1000 files: 1000 would be published (0 with warnings), 0 rejected"


async def test_status_json_lists_problems_first_with_their_lines(seeds: Path, state: Path, start_app: Any) -> None:
    lines = newsroom_folder(seeds)
    client = await start_app(seeds, state, host="127.0.0.1")
    data = json.loads((await fetch(client, "/status.json"))[2])
    states = [f["state"] for f in data["files"]]
    assert states == ["rejected"] * 3 + ["published"] * 5, states
    assert data["counts"] == {"published": 5, "warned": 4, "rejected": 3}
    by_name = {f["path"]: f for f in data["files"]}
    for name, number in lines.items():
        assert [w["line"] for w in by_name[name]["warnings"]] == [number], (name, by_name[name]["warnings"])
    assert by_name["no-title.txt"]["reason"]["kind"] == "no-title"
    assert by_name["large.txt"]["reason"]["kind"] == "too-large"
    published = by_name["good.txt"]
    assert published["title"]["uk"].startswith("Стаття") and published["languages"] == ["en", "uk"]
    assert {f.rsplit("/", 1)[-1] for f in published["feeds"]} == {"feed.atom", "feed.rss", "feed.json"}
    assert len(published["feeds"]) == 9 and published["published"] and published["updated"]
    rejected = json.loads((await fetch(client, "/status.json?state=rejected"))[2])
    assert {f["path"] for f in rejected["files"]} == {"no-title.txt", "binary.txt", "large.txt"}
    found = json.loads((await fetch(client, "/status.json?q=russian"))[2])
    assert [f["path"] for f in found["files"]] == ["russian.txt"]
    paged = json.loads((await fetch(client, "/status.json?limit=3&page=2"))[2])
    assert [f["state"] for f in paged["files"]] == ["published"] * 3 and paged["total"] == 8
    assert (await fetch(client, "/status.json?state=nonsense"))[0] == 400


async def test_status_page_and_previews(seeds: Path, state: Path, start_app: Any) -> None:
    newsroom_folder(seeds)
    client = await start_app(seeds, state, host="127.0.0.1")
    status, headers, body = await fetch(client, "/status")
    assert status == 200 and "script-src 'self'" in headers["Content-Security-Policy"]
    page = lxml.html.document_fromstring(body)
    items = page.xpath("//ul[@id='files']/li")
    assert [li.get("class") for li in items][:4] == ["rejected", "rejected", "rejected", "warned"]
    assert (await fetch(client, "/status", **{"If-None-Match": headers["ETag"]}))[0] == 304
    write(seeds, "new.txt", make_doc(7))

    async def changed() -> bool:
        return (await fetch(client, "/status", **{"If-None-Match": headers["ETag"]}))[0] == 200
    await poll_until_async(changed, what="the status page to change when a file is saved")

    links = {a.text_content(): a.get("href") for a in page.xpath("//ul[@id='files']//a")}
    status, _, preview = await fetch(client, urlsplit(links["good.txt"]).path)
    assert status == 200
    text = lxml.html.document_fromstring(preview).text_content()
    assert "Bilingual feed" in text and "English feed" in text and "Ukrainian feed" in text
    assert "Стаття іноземної преси номер 1 про війну в Україні / Foreign press article number 1" in text
    status, _, rejected = await fetch(client, urlsplit(links["no-title.txt"]).path)
    assert status == 200 and b"Rejected" in rejected and b"no title" in rejected
    assert (await fetch(client, "/preview/no-such-file"))[0] == 404
    home = (await fetch(client, "/"))[2]
    assert b"/status" not in home and b"/preview/" not in home, "not linked from the public pages"


async def test_newsroom_access(seeds: Path, state: Path, start_app: Any) -> None:
    write(seeds, "a.txt", make_doc(1))
    open_on_loopback = await start_app(seeds, state, host="127.0.0.1")
    assert (await fetch(open_on_loopback, "/status.json"))[0] == 200
    await open_on_loopback.close()
    # Listening beyond loopback (only the settings say so: the test server stays on 127.0.0.1).
    exposed = await start_app(seeds, state, host="0.0.0.0")
    status, headers, body = await fetch(exposed, "/status")
    assert status == 401 and "FEEDSVC_EDITOR_TOKEN" in body.decode() and headers["WWW-Authenticate"].startswith("Bearer")
    assert (await fetch(exposed, "/feed.atom"))[0] == 200, "the public feeds stay public"
    await exposed.close()
    token = "correct horse battery staple"
    guarded = await start_app(seeds, state, host="0.0.0.0", editor_token=token)
    for path in ("/status", "/status.json", "/preview/a"):
        assert (await fetch(guarded, path))[0] == 401, path
        assert (await fetch(guarded, path, Authorization="Bearer wrong"))[0] == 401, path
        assert (await fetch(guarded, path, Authorization=f"Bearer {token}"))[0] == 200, path
    response = await guarded.get(f"/status?token={token}", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/status"
    cookie = response.cookies["feedsvc_editor"]
    assert cookie["httponly"] and cookie.value == token
    assert (await fetch(guarded, "/status.json", Cookie=f"feedsvc_editor={cookie.value}"))[0] == 200


def test_a_correction_is_visible_in_both_languages(seeds: Path, state: Path, server_factory: Any) -> None:
    path = write(seeds, "a.txt", make_doc(1))
    hour_ago = time.time() - 3600
    os.utime(path, (hour_ago, hour_ago))  # published an hour ago (a first start dates by mtime)
    server = server_factory(seeds, state)
    first = parse(server.get("/feed.atom")[2]).entries[0]
    assert "Updated" not in first.content[0].value
    write(seeds, "a.txt", make_doc(1, summary_uk="Виправлений підсумок статті про події тижня. https://example.com/articles/1"))
    poll_until(lambda: "Виправлений" in server.get("/uk/feed.atom")[2].decode(), "the correction in /uk/feed.atom")
    today = time.gmtime()
    uk_line = time.strftime("Оновлено %d.%m.%Y", today)
    en_line = f"Updated {today.tm_mday} {time.strftime('%B %Y', today)}"
    corrected = parse(server.get("/feed.atom")[2]).entries[0]
    assert corrected.id == first.id and corrected.published == first.published and corrected.updated != first.updated
    assert uk_line in corrected.content[0].value and en_line in corrected.content[0].value
    uk = parse(server.get("/uk/feed.atom")[2]).entries[0]
    assert uk_line in uk.content[0].value and "Updated" not in uk.content[0].value
    en = parse(server.get("/en/feed.atom")[2]).entries[0]
    assert "Оновлено" not in en.content[0].value and "Updated" not in en.content[0].value, "English did not change"
