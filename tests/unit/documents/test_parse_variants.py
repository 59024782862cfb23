"""Digests as editors really paste them: one variant document per kind, with the record it must give.

Each row is (name, bytes, expected). Expected keys are Document fields ("title.en", "date", ...) and:
  "note": (line, text) — a warning containing `text` on that line of the file;
  "no note": text — no warning contains `text`;
  "rejected": (ReasonKind, line) — the file is rejected, with that kind and line.
Whole-file fixtures are in tests/documents/variants/ (FILES below).
"""

from __future__ import annotations

import datetime as dt

import pytest
from helpers import DOCUMENTS, check_parsed, field

from feedsvc.documents.model import ReasonKind, Rejected
from feedsvc.documents.parse import parse_document

VARIANTS_DIR = DOCUMENTS / "variants"

EN_TITLE = "## Ukraine gets new aid from its allies"
UK_TITLE = "## Україна отримала нову допомогу від союзників"
UK_SUMMARY = "Союзники пообіцяли Україні нову допомогу, повідомили посадовці у четвер."
EN_BODY = "Allies pledged new aid to Ukraine on Thursday, officials said."
EN_MORE = "The deliveries will start in the spring, according to the defence ministry."
URL = "https://example.com/news/aid-2024"


def doc(*parts: str, source: str = "Reuters.- 02.03.2024", authors: str | None = "Jane Doe") -> bytes:
    """Source line (line 1), authors (line 3), then `parts` separated by blank lines: part k (from 0)
    starts on line 5 + 2k when the parts before it are one line each."""
    head = [source] + ([authors] if authors is not None else [])
    return "\n\n".join(head + list(parts)).encode()


def source(line: str) -> bytes:
    return doc(EN_TITLE, EN_BODY, source=line)


def authors(line: str) -> bytes:
    return doc(EN_TITLE, EN_BODY, source="Politico Europe — 2024/03/02", authors=line)


def summary(text: str) -> bytes:
    return doc(EN_TITLE, UK_TITLE, text, EN_BODY)


def article(*paragraphs: str) -> bytes:
    return doc(EN_TITLE, *paragraphs)


LONG_TITLE = "Officials say the talks on the future of the region will go on for weeks " * 60

VARIANTS: list[tuple[str, bytes, dict[str, object]]] = [
    # -- silent errors of the old parser ------------------------------------------------------------
    ("ISO date and time is year-month-day", source("CNN - 2024-11-06T10:36:00Z"),
     {"source": "CNN", "date": dt.date(2024, 11, 6), "warnings": ()}),
    ("dotted year first is year-month-day", source("Time.- 2024.08.07"), {"source": "Time", "date": dt.date(2024, 8, 7)}),
    ("day/month ambiguity is no date", source("The Economist, 03/04/2024"),
     {"source": "The Economist", "date": None, "note": (1, "ambiguous date '03/04/2024'")}),
    ("dashes with a two-digit year are no date", source("Time - 02-03-24"), {"date": None, "note": (1, "02-03-24")}),
    ("wrong weekday makes the date uncertain", source("The Guardian, Sun 8 Oct 2022"),
     {"source": "The Guardian", "date": None, "note": (1, "was a Saturday")}),
    ("wrapped English title", doc("## Ukraine gets new aid from its allies after months\nof talks in Brussels", UK_TITLE,
                                  UK_SUMMARY + " " + URL, EN_BODY),
     {"title.en": "Ukraine gets new aid from its allies after months of talks in Brussels", "title.uk": UK_TITLE[3:],
      "summary.uk": UK_SUMMARY, "body": (EN_BODY,), "link": URL, "warnings": ()}),
    ("wrapped Ukrainian title", doc(EN_TITLE, "## Україна отримала нову допомогу\nвід союзників", UK_SUMMARY, EN_BODY),
     {"title.uk": UK_TITLE[3:], "summary.uk": UK_SUMMARY, "body": (EN_BODY,)}),
    ("a sentence right after a heading is a paragraph", doc(EN_TITLE + "\n" + EN_BODY),
     {"title.en": EN_TITLE[3:], "body": (EN_BODY,)}),
    ("a summary right after the heading is a paragraph", doc(EN_TITLE, UK_TITLE + "\n" + UK_SUMMARY + " " + URL),
     {"title.uk": UK_TITLE[3:], "summary.uk": UK_SUMMARY, "link": URL}),
    ("a heading after the text is never text", doc(EN_TITLE, EN_BODY, "## What happens next", EN_MORE),
     {"body": (EN_BODY, EN_MORE), "note": (9, "heading in the text left out")}),
    ("a missing title found after the text", doc(EN_TITLE, UK_SUMMARY, UK_TITLE, EN_BODY),
     {"title.uk": UK_TITLE[3:], "summary.uk": UK_SUMMARY, "note": (9, "uk title found after the text")}),
    ("transliterated summary costs nothing else",
     doc(EN_TITLE, "Soiuznyky poobitsialy Ukraini novu dopomohu, povidomyly posadovtsi u chetver. Postachannia maiut "
                   "rozpochatysia navesni, zaiavyly v ministerstvi. " + URL, EN_BODY, EN_MORE),
     {"body": (EN_BODY, EN_MORE), "summary.uk": None, "link": URL, "note": (7, "paragraph not in English dropped")}),
    ("a German quote inside the article goes alone",
     doc(EN_TITLE, EN_BODY, "Die Verbündeten haben der Ukraine am Donnerstag neue Hilfe zugesagt, teilten Beamte mit. "
                            "Die Lieferungen sollen im Frühjahr beginnen, hieß es aus Berlin.", EN_MORE),
     {"body": (EN_BODY, EN_MORE), "note": (9, "not in English")}),
    ("two digests in one file", doc(EN_TITLE, UK_TITLE, UK_SUMMARY + " " + URL, EN_BODY, "BBC News: 20/10/2022",
                                    "Becky Morton", "## Liz Truss resigns", "Ліз Трасс іде у відставку."),
     {"rejected": (ReasonKind.TWO_DOCUMENTS, 13)}),
    ("two digests, the second without authors", doc(EN_TITLE, EN_BODY, "Time.- 13.09.2023", "## Second title"),
     {"rejected": (ReasonKind.TWO_DOCUMENTS, 9)}),
    ("a time stamp before a heading is not a second digest",
     doc(EN_TITLE, EN_BODY, "Updated 2 March 2024", "## What happens next", EN_MORE),
     {"body": (EN_BODY, EN_MORE), "note": (9, "time stamp left out")}),
    ("a dated sentence before a heading is not a second digest",
     doc(EN_TITLE, EN_BODY, "The talks ended on 2 March 2024.", "## What happens next", EN_MORE),
     {"body": (EN_BODY, "The talks ended on 2 March 2024.", EN_MORE)}),

    # -- source lines: any order, any separator ------------------------------------------------------
    ("Reuters | 2 March 2024", source("Reuters | 2 March 2024"), {"source": "Reuters", "date": dt.date(2024, 3, 2)}),
    ("BBC News: 20/10/2022", source("BBC News: 20/10/2022"), {"source": "BBC News", "date": dt.date(2022, 10, 20)}),
    ("AP.— 22.06.2023", source("AP.— 22.06.2023"), {"source": "AP", "date": dt.date(2023, 6, 22)}),
    ("date first", source("13.07.2024 - Reuters"), {"source": "Reuters", "date": dt.date(2024, 7, 13), "warnings": ()}),
    ("Politico Europe — 2024/03/02", source("Politico Europe — 2024/03/02"),
     {"source": "Politico Europe", "date": dt.date(2024, 3, 2)}),
    ("no separator", source("Reuters 2 March 2024"), {"source": "Reuters", "date": dt.date(2024, 3, 2)}),
    ("text after the date", source("BBC News - 2 March 2024 - Europe"),
     {"source": "BBC News", "date": dt.date(2024, 3, 2), "note": (1, "ignored text after the date: 'Europe'")}),

    # -- dates -----------------------------------------------------------------------------------------
    ("weekday, time and zone", source("The Guardian, Sat 8 Oct 2022 17.40 BST"),
     {"source": "The Guardian", "date": dt.date(2022, 10, 8), "warnings": ()}),
    ("20/10/2022: day first settled", source("BBC News - 20/10/2022"), {"date": dt.date(2022, 10, 20)}),
    ("10/24/2023: month first settled", source("CNN - 10/24/2023"), {"date": dt.date(2023, 10, 24)}),
    ("two-digit year", source("Time.- 24.10.22"), {"date": dt.date(2022, 10, 24)}),
    ("Ukrainian genitive month", source("Укрінформ, 11 листопада 2022"),
     {"source": "Укрінформ", "date": dt.date(2022, 11, 11)}),
    ("Ukrainian month in capitals, р.", source("Укрінформ - 25 СІЧНЯ 2023 р."), {"date": dt.date(2023, 1, 25)}),
    ("Ukrainian nominative month", source("Укрінформ - 25 січень 2023"), {"date": dt.date(2023, 1, 25)}),
    ("French month", source("Le Monde, 1er mars 2024"), {"source": "Le Monde", "date": dt.date(2024, 3, 1)}),
    ("French weekday and month", source("Le Monde - samedi 2 mars 2024"), {"date": dt.date(2024, 3, 2)}),
    ("German month", source("Der Spiegel, 2. März 2024"), {"source": "Der Spiegel", "date": dt.date(2024, 3, 2)}),
    ("German weekday and month", source("FAZ - Samstag, 2. März 2024"), {"source": "FAZ", "date": dt.date(2024, 3, 2)}),
    ("a note after the date", source("Укрінформ.- 30.04.2025 (оновлено 01.05.2025)"),
     {"source": "Укрінформ", "date": dt.date(2025, 4, 30), "warnings": ()}),
    ("month name first", source("Time - Wednesday, September 13, 2023"), {"date": dt.date(2023, 9, 13)}),

    # -- authors -----------------------------------------------------------------------------------------
    ("location dropped", authors("By Jacopo Barigazzi in Brussels"), {"authors": ("Jacopo Barigazzi",)}),
    ("publication dropped", authors("Becky Morton, BBC News"), {"authors": ("Becky Morton",)}),
    ("the document's own publication dropped", authors("Jane Doe, Politico Europe"), {"authors": ("Jane Doe",)}),
    ("staff and agencies dropped", authors("Shaun Walker, Guardian staff and agencies"), {"authors": ("Shaun Walker",)}),
    ("initials and particles kept", authors("Edith M. Lederer; Ahmed al-Sharaa & Rutger van der Berg"),
     {"authors": ("Edith M. Lederer", "Ahmed al-Sharaa", "Rutger van der Berg")}),
    ("Ukrainian і and та", authors("Олена Гармаш і Том Балмфорт та Іван Петренко у Києві"),
     {"authors": ("Олена Гармаш", "Том Балмфорт", "Іван Петренко")}),
    ("location with a country", authors("Jim Heintz in Tallinn, Estonia, and Dasha Litvinova"),
     {"authors": ("Jim Heintz", "Dasha Litvinova")}),
    ("Jr. stays with its name", authors("Martin Luther King, Jr."), {"authors": ("Martin Luther King Jr.",)}),
    ("By line above the source line", doc(EN_TITLE, source="By Jane Doe", authors="Reuters.- 02.03.2024"),
     {"source": "Reuters", "date": dt.date(2024, 3, 2), "authors": ("Jane Doe",), "warnings": ()}),

    # -- the Ukrainian summary's trailing URL ---------------------------------------------------------
    ("<URL>", summary(f"{UK_SUMMARY} <{URL}>"), {"summary.uk": UK_SUMMARY, "link": URL}),
    ("‹URL›", summary(f"{UK_SUMMARY} ‹{URL}›"), {"summary.uk": UK_SUMMARY, "link": URL}),
    ("(URL)", summary(f"{UK_SUMMARY} ({URL})"), {"summary.uk": UK_SUMMARY, "link": URL}),
    ("URL and a full stop", summary(f"{UK_SUMMARY} {URL}."), {"summary.uk": UK_SUMMARY, "link": URL}),
    ("(URL) and the sentence's full stop", summary(f"{UK_SUMMARY[:-1]} ({URL})."), {"summary.uk": UK_SUMMARY, "link": URL}),
    ("<URL> on its own line", summary(f"{UK_SUMMARY}\n<{URL}>"), {"summary.uk": UK_SUMMARY, "link": URL}),
    ("a URL inside a sentence stays", summary(f"Дивіться ({URL}/in) на сайті. <{URL}>"),
     {"summary.uk": f"Дивіться ({URL}/in) на сайті.", "link": URL}),
    ("a URL with brackets of its own", summary(f"{UK_SUMMARY} https://en.wikipedia.org/wiki/Kerch_(city)"),
     {"link": "https://en.wikipedia.org/wiki/Kerch_(city)"}),
    ("no URL at the end of the summary", summary(UK_SUMMARY),
     {"link": None, "note": (9, "no source URL at the end of the Ukrainian summary")}),

    # -- page furniture: never in the article, never in its summary -----------------------------------
    ("Advertisement", article(EN_BODY, "Advertisement", EN_MORE),
     {"body": (EN_BODY, EN_MORE), "note": (9, "advertisement left out")}),
    ("ADVERTISEMENT", article(EN_BODY, "ADVERTISEMENT", EN_MORE), {"body": (EN_BODY, EN_MORE)}),
    ("Related:", article(EN_BODY, "Related: EU agrees new sanctions", EN_MORE),
     {"body": (EN_BODY, EN_MORE), "note": (9, "cross-link left out")}),
    ("Also read:", article(EN_BODY, "Also read: What we know", EN_MORE), {"body": (EN_BODY, EN_MORE)}),
    ("READ MORE", article(EN_BODY, "READ MORE Russia-Ukraine war at a glance", EN_MORE), {"body": (EN_BODY, EN_MORE)}),
    ("Read more", article(EN_BODY, "Read more", EN_MORE), {"body": (EN_BODY, EN_MORE)}),
    ("Read more Subscribers only", article(EN_BODY, "Read more Subscribers only Why Kyiv is worried", EN_MORE),
     {"body": (EN_BODY, EN_MORE)}),
    ("newsletter", article(EN_BODY, "Sign up for our Morning Briefing newsletter", EN_MORE),
     {"body": (EN_BODY, EN_MORE), "note": (9, "newsletter sign-up left out")}),
    ("Our Standards", article(EN_BODY, EN_MORE, "Our Standards: The Thomson Reuters Trust Principles."),
     {"body": (EN_BODY, EN_MORE), "summary.en": f"{EN_BODY} {EN_MORE}"}),
    ("(AP Photo/...) caption", article(EN_BODY, "Soldiers fire a howitzer near Bakhmut, Ukraine, Saturday, March 2, "
                                       "2024. (AP Photo/Efrem Lukatsky)", EN_MORE),
     {"body": (EN_BODY, EN_MORE), "summary.en": f"{EN_BODY} {EN_MORE}", "note": (9, "photo caption left out")}),
    ("Image caption and source", article("Image source, Getty Images", "Image caption, Smoke rises over Kyiv",
                                         EN_BODY), {"body": (EN_BODY,), "summary.en": EN_BODY}),
    ("Editor's note before the article", article("Editor's note: This story contains graphic details.", EN_BODY),
     {"body": (EN_BODY,), "summary.en": EN_BODY, "note": (7, "editor's note left out")}),
    ("This story has been updated", article(EN_BODY, "This story has been updated with comments from officials."),
     {"body": (EN_BODY,), "summary.en": EN_BODY}),
    ("furniture without blank lines", "\n".join(
        ["Reuters.- 02.03.2024", EN_TITLE, EN_BODY, "Read more: Kyiv braces for winter", "ADVERTISEMENT", EN_MORE]
    ).encode(), {"body": (EN_BODY, EN_MORE), "note": (4, "cross-link left out")}),
    ("furniture inside a hard-wrapped paragraph", article(f"{EN_BODY}\nAdvertisement\n{EN_MORE}"),
     {"body": (EN_BODY, EN_MORE), "note": (8, "advertisement left out")}),
    ("the credit paragraph stays", article(EN_BODY, "—Doe reported from Kyiv."),
     {"body": (EN_BODY, "—Doe reported from Kyiv."), "summary.en": EN_BODY}),
    ("article sentences are not furniture", article("Related talks in Geneva ended without a deal, officials said.",
                                                    "Read more of this and the rest, the minister said."),
     {"body": ("Related talks in Geneva ended without a deal, officials said.",
               "Read more of this and the rest, the minister said."), "no note": "left out"}),

    # -- characters --------------------------------------------------------------------------------------
    ("a stray NUL is stripped", doc(EN_TITLE, EN_BODY.replace("new", "new\x00"), EN_MORE),
     {"body": (EN_BODY, EN_MORE), "note": (7, "removed 1 control")}),
    ("a file of NULs is binary", b"\x00\x00## Title\x00\x00\x00", {"rejected": (ReasonKind.BINARY, 1)}),
    ("a gzip file is binary", b"\x1f\x8b\x08\x00## Title about the war\n\nText." * 3, {"rejected": (ReasonKind.BINARY, 1)}),
    ("bidi overrides leave the title", doc("## Ukraine \u202egets new aid\u202c from its allies", EN_BODY),
     {"title.en": EN_TITLE[3:], "note": (5, "removed 2 bidirectional")}),
    ("bidi isolates leave the summary", summary("\u2066" + UK_SUMMARY + "\u2069 " + URL),
     {"summary.uk": UK_SUMMARY, "note": (9, "bidirectional")}),
    ("zero-width characters inside words go", doc(EN_TITLE.replace("aid", "a\u200bi\u200dd"), EN_BODY),
     {"title.en": EN_TITLE[3:], "note": (5, "removed 2 zero-width")}),
    ("emoji keep their joiners", doc(EN_TITLE + " 👩\u200d👩\u200d👧", EN_BODY),
     {"title.en": EN_TITLE[3:] + " 👩\u200d👩\u200d👧", "warnings": ()}),
    ("absurdly long title cut", doc("## " + LONG_TITLE, EN_BODY),
     {"title.en": (LONG_TITLE[:LONG_TITLE.rfind(" ", 0, 300)] + "…"), "note": (5, "title cut to")}),
]


@pytest.mark.parametrize(("data", "expected"), [v[1:] for v in VARIANTS], ids=[v[0] for v in VARIANTS])
def test_variant(data: bytes, expected: dict[str, object]) -> None:
    check_parsed(data, "variant.txt", expected)



def test_long_title_is_cut_at_a_word() -> None:
    d = parse_document(doc("## " + LONG_TITLE, EN_BODY), "variant.txt")
    assert d.title.en and len(d.title.en) <= 300 and d.title.en.endswith("weeks…")


# -- whole documents as pasted -----------------------------------------------------------------------

FILES: dict[str, dict[str, object]] = {
    "politico_wrapped_title.txt": {
        "source": "Politico Europe", "date": dt.date(2024, 3, 2), "authors": ("Jacopo Barigazzi", "Nicolas Camut"),
        "title.en": "EU leaders agree to use frozen Russian assets to fund weapons for Ukraine after months of wrangling",
        "title.uk": "Лідери ЄС погодилися використати заморожені російські активи для озброєння України",
        "link": "https://www.politico.eu/article/eu-leaders-frozen-russian-assets-weapons-ukraine/",
        "summary.uk": "Лідери Європейського Союзу погодилися спрямувати прибутки від заморожених російських активів "
                      "на закупівлю зброї для України. Рішення ухвалили після кількох місяців суперечок.",
        "body": ("BRUSSELS — European Union leaders on Thursday agreed to use the windfall profits from frozen Russian "
                 "central bank assets to buy weapons for Ukraine.",
                 "The decision follows months of talks between capitals that worried about the legal risks of "
                 "touching the assets, most of which are held in Belgium.",
                 "Diplomats said the first tranche of money could reach Kyiv by July."),
        "notes": [(17, "advertisement"), (22, "cross-link"), (24, "newsletter sign-up"), (26, "photo caption"),
                  (31, "update notice")],
    },
    "ap_crlf_furniture.txt": {
        "source": "AP", "date": dt.date(2023, 6, 22),
        "authors": ("Edith M. Lederer", "Ahmed al-Sharaa", "Rutger van der Berg"),
        "link": "https://apnews.com/article/un-ukraine-ports-food-2023",
        "summary.uk": "ООН попереджає, що удари по портах Одеси загрожують постачанням зерна до Африки.",
        "summary.en": "The United Nations warned on Thursday that Russian strikes on Ukrainian ports threaten the food "
                      "supply of millions of people. Grain shipments from Odesa have fallen by half since the strikes "
                      "began, officials said.",
        "body": ("UNITED NATIONS (AP) — The United Nations warned on Thursday that Russian strikes on Ukrainian ports "
                 "threaten the food supply of millions of people.",
                 "Grain shipments from Odesa have fallen by half since the strikes began, officials said.",
                 "—Lederer reported from the United Nations."),
        "notes": [(11, "editor's note"), (15, "advertisement"), (19, "cross-link")],
    },
    "guardian_bbc_furniture.txt": {
        "source": "The Guardian", "date": dt.date(2022, 10, 8), "authors": ("Shaun Walker", "Pjotr Sauer"),
        "link": "https://www.theguardian.com/world/2022/oct/08/crimea-bridge",
        "summary.uk": "Вибух пошкодив міст, що сполучає Крим із росією.",
        "body": ("A huge explosion has damaged the bridge linking Crimea to Russia, a key supply route for Russian "
                 "forces in southern Ukraine.",
                 "Russian investigators said a truck bomb had caused the blast, which killed three people."),
        "notes": [(11, "photo caption"), (13, "photo caption"), (17, "newsletter sign-up"), (19, "newsletter sign-up"),
                  (21, "cross-link")],
    },
    "translit_summary.txt": {
        "source": "Reuters", "date": dt.date(2024, 3, 2), "authors": ("Tom Balmforth", "Олена Гармаш"),
        "title.uk": None, "summary.uk": None,
        "link": "https://www.reuters.com/world/europe/ukraine-drones-2024-03-02/",
        "body": ("KYIV (Reuters) - Ukraine's air defences shot down most of the drones launched by Russia overnight, "
                 "officials said on Saturday. There were no casualties, the regional governor said.",
                 "The attack came at about 1:30 a.m. Saturday. Debris fell on two districts of the capital."),
        "notes": [(7, "paragraph not in English dropped")],
    },
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_fixture(name: str) -> None:
    d = parse_document((VARIANTS_DIR / name).read_bytes(), name)
    expected = dict(FILES[name])
    notes = expected.pop("notes")
    for key, value in expected.items():
        assert field(d, key) == value, (key, field(d, key))
    assert isinstance(notes, list)
    assert [(w.line, w.text.split(" left out")[0].split(" dropped")[0]) for w in d.warnings] == [
        (line, text.removesuffix(" dropped")) for line, text in notes]


def test_fixture_two_digests() -> None:
    with pytest.raises(Rejected) as info:
        parse_document((VARIANTS_DIR / "two_digests.txt").read_bytes(), "two_digests.txt")
    assert info.value.reason.kind is ReasonKind.TWO_DOCUMENTS and info.value.reason.line == 13
    assert str(info.value.reason).startswith("line 13: a second document starts here")


def test_every_fixture_has_an_expectation() -> None:
    assert sorted(p.name for p in VARIANTS_DIR.glob("*.txt")) == sorted([*FILES, "two_digests.txt"])
