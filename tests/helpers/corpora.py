"""Folders of documents that tests in more than one file build: the bad corpus (tests/bad/ and the
files generated beside it), the newsroom's one finding per file, and the topics' four publications."""

from __future__ import annotations

from pathlib import Path

from helpers import make_doc, write

MIB = 1 << 20

# tests/bad/<name>: None = accepted (with warnings), else a substring of the rejection reason.
BAD_EXPECTED: dict[str, str | None] = {
    "empty.txt": "empty file",
    "whitespace_only.txt": "empty file",
    "invalid_utf8.txt": "invalid UTF-8",
    "utf16.txt": "UTF-16",
    "no_title.txt": "no title",
    "russian_title_only.txt": "no title in English or Ukrainian",
    "headings_only_hashes.txt": "no title",
    "cp1251_ukrainian.txt": None,  # plausible cp1251 Cyrillic: published, with a warning
    "control_chars.txt": None,  # XML-forbidden characters removed, with a warning
}


def generated_bad() -> dict[str, tuple[bytes, str | None]]:
    """Files too big, binary or odd to commit: name -> (bytes, expected reason or None)."""
    good = make_doc(900).encode()
    return {
        "binary.txt": (bytes(range(256)) * 64, "binary data"),
        "binary_controls.txt": (b"## Title about the war\n\n" + bytes([1, 2, 3, 4, 5, 6, 0x0e, 0x1b] * 400),
                                "binary data"),
        "oversize.txt": (good + b"\n" + b"Filler sentence about the war. " * (MIB // 31 + 10), "larger than"),
        "five_mb.txt": (b"x" * (5 * MIB), "larger than"),
        "long_line.txt": (good + b"\n" + b"y" * 100_000 + b"\n", "characters long"),
        "long_title.txt": (b"Reuters.- 13.09.2023\n\n## " + "Заголовок ".encode() * 10_000 + b"\n\nText.\n",
                           "characters long"),
    }


UK_SUMMARY_NO_URL = "Союзники пообіцяли нову допомогу Україні. Постачання почнуться навесні."


def newsroom_folder(folder: Path) -> dict[str, int]:
    """Files with one finding each; the expected line of that finding."""
    write(folder, "good.txt", make_doc(1))
    write(folder, "bad-date.txt", make_doc(2).replace("Reuters.- 13.09.2023", "Reuters.- 31.02.2023"))
    write(folder, "no-url.txt", make_doc(3, summary_uk=UK_SUMMARY_NO_URL))
    russian = "Лидеры России и Северной Кореи встретились на отдаленном ракетном комплексе в Сибири."
    write(folder, "russian.txt", make_doc(4).replace("\n\nThe article number 4", f"\n\n{russian}\n\nThe article number 4"))
    write(folder, "control.txt", make_doc(5).replace("Officials said", "Officials\x07 said"))
    write(folder, "no-title.txt", "Reuters.- 13.09.2023\n\nJane Doe\n\nJust a paragraph, no heading at all.\n")
    (folder / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    write(folder, "large.txt", make_doc(6) + "x" * 2_000_000)
    # make_doc's layout: source line 1, authors 3, titles 5 and 7, the Ukrainian summary 9, the article from 11.
    return {"bad-date.txt": 1, "no-url.txt": 9, "russian.txt": 11, "control.txt": 11}


def topics_corpus(seeds: Path) -> None:
    """Four digests: two from AP (under two spellings), one by a named author, one unrelated."""
    write(seeds, "ap-sanctions.txt", make_doc(
        1, en="Sanctions against Russia tighten", uk="Санкції проти росії посилюються",
        summary_uk="Європейський союз запровадив нові санкції проти росії. https://example.com/1",
        body="The EU imposed new sanctions on Monday. Officials said more would follow.").replace("Reuters.- ", "AP.- "))
    write(seeds, "ap-long-name.txt", make_doc(
        2, en="Grain deal talks resume", uk="Переговори про зернову угоду відновилися",
        summary_uk="Сторони знову сіли за стіл переговорів про зерно. https://example.com/2",
        body="Talks on the grain deal resumed in Istanbul. Diplomats were cautious.").replace(
        "Reuters.- ", "Associated Press - "))
    write(seeds, "kuleba-trade.txt", make_doc(
        3, en="Ministers discuss trade", uk="Міністри обговорили торгівлю під санкціями",
        summary_uk="Міністри говорили про торгівлю, обмежену санкціями. https://example.com/3",
        body="Ministers discussed trade. No sanction was announced this time.").replace(
        "Jane Doe, John Roe", "Дмитро Кулеба"))
    write(seeds, "unrelated.txt", make_doc(
        4, en="Football club wins the cup", uk="Футбольний клуб виграв кубок",
        summary_uk="Команда святкувала перемогу у фіналі. https://example.com/4",
        body="The club won the final on penalties. Fans celebrated all night."))


def older_article(n: int) -> str:
    """A digest written today about an article from 2019: dated long before everything else."""
    return make_doc(n, date="05.03.2019", en=f"An older article number {n} finally digested",
                    uk=f"Давня стаття номер {n} нарешті в огляді")
