"""What editors are told about a digest that is published but left out of a language's feeds (issue 24,
item 10): `feedsvc check`, /status(.json), /preview/{id} and the log line say which feeds it goes to
and why not the others, through the interfaces editors use (a subprocess, a running server)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import lxml.html
from helpers import make_doc, poll_until, write

RUSSIAN_SUMMARY = ("Лидеры России и Северной Кореи встретились на отдаленном ракетном комплексе в Сибири. "
                   "Аналитики считают, что ситуация остается сложной. https://example.com/articles/1")
RUSSIAN_TITLE = "## Путин и Ким встретились на космодроме в Сибири"
# make_doc's layout: source line 1, authors 3, titles 5 and 7, the Ukrainian summary 9, the article from 11.
WHY_RUSSIAN_SUMMARY = "no Ukrainian summary (text dropped for its language on line 9)"


def digests(folder: Path) -> None:
    """A digest in every feed, and three each left out of one language's feeds for a different reason."""
    write(folder, "good.txt", make_doc(2))
    write(folder, "russian-summary.txt", make_doc(1, summary_uk=RUSSIAN_SUMMARY))
    write(folder, "russian-title.txt", make_doc(3).replace("## Стаття іноземної преси номер 3 про війну в Україні",
                                                           RUSSIAN_TITLE))
    write(folder, "english-only.txt", "Reuters.- 13.09.2023\n\nJane Doe\n\n## Allies pledge new aid to Ukraine\n\n"
          "Allies pledged new aid to Ukraine on Tuesday. Deliveries will start in spring, officials said.\n\n"
          "The package includes air defence systems.\n")
    write(folder, "ukrainian-only.txt", "Reuters.- 13.09.2023\n\nJane Doe\n\n## Союзники пообіцяли нову допомогу\n\n"
          "Союзники пообіцяли нову допомогу Україні. Постачання почнуться навесні. https://example.com/a\n")


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "feedsvc", "check", *args], capture_output=True, text=True,
                          timeout=120)


def test_check_says_which_feeds_a_digest_goes_to_and_why_not_the_others(tmp_path: Path) -> None:
    digests(tmp_path)
    result = check(str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout.splitlines()
    assert out[-1] == "5 files: 5 would be published (2 with warnings), 0 rejected", "the total keeps its format"
    notes = {line.split(":", 1)[0].rsplit("/", 1)[-1]: line for line in out if ": note: published to: " in line}
    expected = {
        "russian-summary.txt": f"{tmp_path}/russian-summary.txt: note: published to: bilingual, en; "
                               f"not in /uk/: {WHY_RUSSIAN_SUMMARY}",
        "english-only.txt": f"{tmp_path}/english-only.txt: note: published to: bilingual, en; "
                            "not in /uk/: no Ukrainian title and no Ukrainian summary",
        "ukrainian-only.txt": f"{tmp_path}/ukrainian-only.txt: note: published to: bilingual, uk; "
                              "not in /en/: no English title and no English article",
    }
    assert set(notes) == {*expected, "russian-title.txt"}, "a digest in every feed gets no line"
    for name, line in expected.items():
        assert notes[name] == line
    # The dropped title's own warning (line 7) carries the line; the note says what it cost.
    assert notes["russian-title.txt"].startswith(f"{tmp_path}/russian-title.txt: note: published to: bilingual, en; "
                                                 "not in /uk/: no Ukrainian title")
    # The note follows the file's warnings, which carry the lines it sums up.
    russian = [line for line in out if "/russian-summary.txt" in line]
    assert [line.split(": ")[1] for line in russian] == ["warning", "warning", "note"], russian
    assert russian[0].startswith(f"{tmp_path}/russian-summary.txt:9: warning: Russian paragraph dropped")

    records = {Path(r["path"]).name: r for r in map(json.loads, check("--json", str(tmp_path)).stdout.splitlines())}
    assert records["good.txt"]["feeds"] == ["bilingual", "en", "uk"] and records["good.txt"]["missing"] == {}
    assert records["russian-summary.txt"]["feeds"] == ["bilingual", "en"]
    assert records["russian-summary.txt"]["missing"] == {"uk": WHY_RUSSIAN_SUMMARY}
    assert records["ukrainian-only.txt"]["feeds"] == ["bilingual", "uk"]
    assert set(records["ukrainian-only.txt"]["missing"]) == {"en"}
    assert records["russian-summary.txt"]["record"]["languages"] == ["en"], "the record itself is unchanged"


def test_check_json_of_a_rejected_file_has_no_feeds(tmp_path: Path) -> None:
    write(tmp_path, "no-title.txt", "Reuters.- 13.09.2023\n\nJust a paragraph, no heading at all.\n")
    result = check("--json", str(tmp_path))
    record = json.loads(result.stdout)
    assert result.returncode == 1 and record["state"] == "rejected"
    assert record["feeds"] == [] and record["missing"] is None


def test_status_preview_and_log_of_a_running_server(seeds: Path, state: Path, server_factory: Any) -> None:
    digests(seeds)
    server = server_factory(seeds, state)
    status, _, body = server.get("/status.json")
    assert status == 200, body[:300]
    files = {f["path"]: f for f in json.loads(body)["files"]}
    russian = files["russian-summary.txt"]
    assert russian["missing"] == {"uk": WHY_RUSSIAN_SUMMARY}
    assert {urlpath.split("/")[3] for urlpath in russian["feeds"]} == {"feed.atom", "feed.rss", "feed.json", "en"}
    assert not [f for f in russian["feeds"] if "/uk/" in f] and len(russian["feeds"]) == 6
    assert files["good.txt"]["missing"] == {} and len(files["good.txt"]["feeds"]) == 9
    assert set(files["ukrainian-only.txt"]["missing"]) == {"en"}

    page = lxml.html.document_fromstring(server.get("/status")[2])
    shown = {li.xpath(".//span[@class='path']")[0].text_content(): [d.text_content() for d in
                                                                     li.xpath(".//div[@class='missing']")]
             for li in page.xpath("//ul[@id='files']/li")}
    assert shown["russian-summary.txt"] == [f"not in /uk/: {WHY_RUSSIAN_SUMMARY}"]
    assert shown["good.txt"] == []

    status, _, body = server.get("/preview/russian-summary")
    assert status == 200
    text = lxml.html.document_fromstring(body).text_content()
    # There is a Ukrainian headline, so "no headline and text in this language" would be wrong.
    assert f"Ukrainian feedNot in this feed: {WHY_RUSSIAN_SUMMARY}." in text, text
    assert "no headline and text" not in text and "Стаття іноземної преси номер 1" in text
    text = lxml.html.document_fromstring(server.get("/preview/ukrainian-only")[2]).text_content()
    assert "English feedNot in this feed: no English title and no English article." in text, text

    # A digest saved while the server runs is logged the same way as one found at start.
    write(seeds, "later.txt", make_doc(4, summary_uk=RUSSIAN_SUMMARY))
    poll_until(lambda: "later.txt" in server.log.read_text(), "the saved digest to be logged")
    server.stop()
    log = server.log.read_text()
    for name in ("russian-summary.txt", "later.txt"):
        assert f"document accepted with 2 warnings: {name} (en): line 9: Russian paragraph dropped: 'Лидеры " \
            in log, log
    assert "document accepted: good.txt (en,uk)" in log, "a digest without warnings keeps its line"
    assert "document accepted: english-only.txt (en)" in log
