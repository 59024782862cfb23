"""Digests pasted from news sites (issue 24): each kind in several wordings, with the record it gives.

Rows are (name, text, expected) as in tests/test_parse_variants.py: Document fields, "note": (line, text),
"no note": text, "rejected": (ReasonKind, line).
"""

from __future__ import annotations

import datetime as dt

import pytest
from helpers import check_parsed

from feedsvc.documents.model import NoteKind, ReasonKind
from feedsvc.documents.parse import parse_document

EN = "## Ukraine gets new aid from its allies"
UK = "## Україна отримала нову допомогу від союзників"
UKS = "Союзники пообіцяли Україні нову допомогу, повідомили посадовці у четвер."
URL = "https://example.com/news/aid-2024"
P1 = "Allies pledged new aid to Ukraine on Thursday, officials said after a long meeting in Brussels."
P2 = "The deliveries will start in the spring, according to the defence ministry in Kyiv."
P3 = "Diplomats said the first tranche could reach Kyiv by July, though details were still being settled."


def doc(*parts: str, head: tuple[str, ...] = ("Reuters.- 02.03.2024", "Jane Doe")) -> bytes:
    return "\n\n".join([*head, *parts]).encode()


def article(*paragraphs: str) -> bytes:
    return doc(EN, UK, f"{UKS} {URL}", *paragraphs)


def header(*lines: str) -> bytes:
    return doc(EN, P1, head=lines)


CASES: list[tuple[str, bytes, dict[str, object]]] = [
    # 1. furniture above the first paragraph ---------------------------------------------------------
    ("subscription promo", article("Subscribe to unlock this article", P1, P2),
     {"body": (P1, P2), "summary.en": f"{P1} {P2}", "note": (11, "left out")}),
    ("read for free promo", article("You have 2 free articles left this month. Register now", P1),
     {"body": (P1,)}),
    ("audio player", article("Listen to this article", "6 min", P1), {"body": (P1,), "note": (11, "audio player")}),
    ("voiced by AI", article("Voiced by artificial intelligence.", P1, P2), {"summary.en": f"{P1} {P2}"}),
    ("share toolbar", article("Share", "Save", "Gift this article", P1), {"body": (P1,)}),
    ("toolbar in one line", article("Facebook · Twitter · Email · Print", P1), {"body": (P1,)}),
    ("caption with an agency credit", article(
        "Firefighters work at the site of a drone strike in Kyiv, Ukraine, March 2, 2024. REUTERS/Gleb Garanich", P1),
     {"body": (P1,), "note": (11, "photo caption")}),
    ("caption with a Photograph: credit", article(
        "A destroyed building in Kharkiv. Photograph: Sergey Bobok/AFP/Getty Images", P1, P2),
     {"body": (P1, P2)}),
    ("caption with Photo: credit and a stop", article("Smoke rises over Kyiv. Photo: Reuters.", P1), {"body": (P1,)}),
    ("most read list", article("Most read", "Putin's plan for the Black Sea", "Why Kyiv fears the winter", P1, P2),
     {"body": (P1, P2), "summary.en": f"{P1} {P2}"}),
    ("byline paragraph gives the authors", article("By Anna Smith and Bo Kim", P1),
     {"body": (P1,), "authors": ("Jane Doe",), "note": (11, "byline")}),
    ("byline paragraph without header authors", doc(EN, "Analysis by Anna Smith, CNN", P1,
                                                    head=("Reuters.- 02.03.2024",)),
     {"body": (P1,), "authors": ("Anna Smith",)}),
    ("a short first sentence stays", article("Russia attacked Kyiv overnight.", P1),
     {"body": ("Russia attacked Kyiv overnight.", P1)}),

    # 2. furniture glued to the summary ------------------------------------------------------------
    ("keep reading block", article("Allies pledged new aid.", "Keep reading", "EU agrees new sanctions",
                                   "Why Kyiv fears the winter", P2),
     {"body": ("Allies pledged new aid.", P2), "summary.en": f"Allies pledged new aid. {P2}"}),
    ("more on this story block", article(P1, "More on this story", "The war in maps", P2),
     {"body": (P1, P2)}),
    ("intro before a dash list ends the summary", article(P1, "The package includes:", "- air defence missiles",
                                                          "- artillery shells", P2),
     {"summary.en": P1}),
    ("intro with a colon inside a paragraph", article(P1 + " The ministry listed three items:", "- shells", P2),
     {"summary.en": P1}),

    # 3. header lines by what they are ---------------------------------------------------------------
    ("editor's update note above the source", header("Оновлено 03.03.2024 о 10:15", "Reuters.- 02.03.2024",
                                                     "Jane Doe"),
     {"source": "Reuters", "date": dt.date(2024, 3, 2), "authors": ("Jane Doe",), "note": (1, "update note")}),
    ("UPD note", header("UPD: 03.03.2024", "BBC News - 02.03.2024"), {"source": "BBC News", "date": dt.date(2024, 3, 2)}),
    ("publication and date on separate lines", header("Reuters", "02.03.2024", "Jane Doe"),
     {"source": "Reuters", "date": dt.date(2024, 3, 2), "authors": ("Jane Doe",)}),
    ("date line first", header("2 March 2024", "The Guardian", "Jane Doe, Bo Kim"),
     {"source": "The Guardian", "date": dt.date(2024, 3, 2), "authors": ("Jane Doe", "Bo Kim")}),
    ("Ukrainian labels", header("Видання: Reuters", "Дата: 02.03.2024", "Автор: Jane Doe"),
     {"source": "Reuters", "date": dt.date(2024, 3, 2), "authors": ("Jane Doe",), "warnings": ()}),
    ("English labels", header("Source: The Economist", "By: Anna Smith", "Date: March 2, 2024"),
     {"source": "The Economist", "date": dt.date(2024, 3, 2), "authors": ("Anna Smith",)}),
    ("published and updated stamp", header("Reuters, published on March 2, 2024, updated on March 3, 2024"),
     {"source": "Reuters", "date": dt.date(2024, 3, 2)}),
    ("stamp on a line of its own", header("The Kyiv Independent", "Published March 2, 2024 · Updated March 3, 2024"),
     {"source": "The Kyiv Independent", "date": dt.date(2024, 3, 2)}),

    # 4. dates copied from pages -------------------------------------------------------------------
    ("year run into the time", header("Reuters", "March 2, 20249:41 AM GMT+2Updated 2 hours ago"),
     {"source": "Reuters", "date": dt.date(2024, 3, 2)}),
    ("numbers run into the time", header("CNN - 02.03.202410:15"), {"source": "CNN", "date": dt.date(2024, 3, 2)}),
    ("ambiguous stamp stays null", header("CNN", "03/04/2024 10:15 Updated 5 min ago"),
     {"source": "CNN", "date": None, "note": (3, "ambiguous")}),

    # 5. markup and labels -------------------------------------------------------------------------
    ("browser tab suffix", doc("## Ukraine gets new aid from its allies | Reuters", P1),
     {"title.en": EN[3:], "note": (5, "site name")}),
    ("tab suffix with a dash", doc("## Ukraine gets new aid from its allies - BBC News", P1,
                                   head=("BBC News - 02.03.2024",)), {"title.en": EN[3:]}),
    ("a dash inside a headline stays", doc("## Ukraine war - what we know on day 500", P1),
     {"title.en": "Ukraine war - what we know on day 500"}),
    ("Markdown emphasis", doc("## **Ukraine gets new aid from its allies**", "## *Україна отримала нову допомогу від "
                              "союзників*", f"**{UKS}** {URL}", "*" + P1 + "*", head=("**Reuters** | 2 March 2024",)),
     {"source": "Reuters", "title.en": EN[3:], "title.uk": UK[3:], "summary.uk": UKS, "body": (P1,)}),
    ("EN: and UA: labels", doc("## EN: Ukraine gets new aid from its allies", "## UA: Україна отримала нову допомогу "
                               "від союзників", f"{UKS} {URL}", P1),
     {"title.en": EN[3:], "title.uk": UK[3:]}),
    ("labels without a hash", doc("EN: Ukraine gets new aid from its allies", "UA: Україна отримала нову допомогу від "
                                  "союзників", f"{UKS} {URL}", P1),
     {"title.en": EN[3:], "title.uk": UK[3:], "summary.uk": UKS}),

    # 6. authors -------------------------------------------------------------------------------------
    ("Analysis by", header("CNN - 02.03.2024", "Analysis by Anna Smith, CNN"), {"authors": ("Anna Smith",)}),
    ("Opinion by with an unknown outlet", header("Kyiv Post - 02.03.2024", "Opinion by Anna Smith, Kyiv Post"),
     {"authors": ("Anna Smith",)}),
    ("role after the name", header("Reuters - 02.03.2024", "Anna Smith, Senior Correspondent"),
     {"authors": ("Anna Smith",)}),
    ("byline between the titles", doc(EN, "By Anna Smith and Bo Kim", UK, f"{UKS} {URL}", P1,
                                      head=("Reuters.- 02.03.2024",)),
     {"authors": ("Anna Smith", "Bo Kim"), "title.uk": UK[3:], "body": (P1,)}),

    # 7. a Ukrainian title of Latin brand names ----------------------------------------------------
    ("brand names in a Ukrainian title", doc(EN, "## Apple, Microsoft та Nvidia подолали позначку", f"{UKS} {URL}", P1),
     {"title.uk": "Apple, Microsoft та Nvidia подолали позначку", "title.en": EN[3:]}),
    ("brands and lowercase words", doc(EN, "## OpenAI, Google, Anthropic: нові моделі", f"{UKS} {URL}", P1),
     {"title.uk": "OpenAI, Google, Anthropic: нові моделі"}),
    ("an English title quoting Ukrainian", doc("## Zelensky says «Слава Україні» is back", P1),
     {"title.en": "Zelensky says «Слава Україні» is back"}),

    # 8. the source link ---------------------------------------------------------------------------
    ("pointer on its own paragraph", doc(EN, UK, UKS, f"👉 {URL}", P1), {"link": URL, "summary.uk": UKS}),
    ("no scheme", doc(EN, UK, f"{UKS} reuters.com/world/europe/aid-2024/", P1),
     {"link": "https://reuters.com/world/europe/aid-2024/", "summary.uk": UKS}),
    ("www without scheme", doc(EN, UK, f"{UKS}\nwww.bbc.com/news/world-123", P1),
     {"link": "https://www.bbc.com/news/world-123"}),
    ("(англ.) after the URL", doc(EN, UK, f"{UKS} {URL} (англ.)", P1), {"link": URL, "summary.uk": UKS}),
    ("Джерело: label", doc(EN, UK, UKS, f"Джерело: {URL}", P1), {"link": URL, "summary.uk": UKS}),
    ("editor's credit after the summary", doc(EN, UK, f"{UKS} {URL}", "Підготувала Олена Петренко", P1),
     {"link": URL, "summary.uk": UKS}),
    ("credit on the URL's next line", doc(EN, UK, f"{UKS}\n{URL}\nПереклад: Іван Коваль", P1),
     {"link": URL, "summary.uk": UKS}),
    ("social post attribution", doc(EN, UK, f"{UKS} {URL}", P1,
                                    "Ukraine will never forget the help of our partners. Thank you!",
                                    "— Володимир Зеленський (@ZelenskyyUa) 2 березня 2024", P2),
     {"summary.uk": UKS, "body": (P1, "Ukraine will never forget the help of our partners. Thank you!", P2)}),

    # 9. bad input -------------------------------------------------------------------------------------
    ("cut off mid-word", doc(EN, UK, f"{UKS} {URL}", P1, "The deliveries will start in the spring, acc"),
     {"body": (P1,), "note": (13, "ends mid-sentence")}),
    ("cut off after a whole sentence", doc(EN, P1 + " The deliveries will sta"),
     {"body": (P1,), "summary.en": P1}),
    ("Word non-breaking hyphen", doc(EN, P1.replace("long", "long\x1eterm")),
     {"body": (P1.replace("long", "long-term"),)}),
    ("Word manual line breaks", doc(EN, "Allies pledged new aid.\x0bThe deliveries will start\x0bin the spring."),
     {"body": ("Allies pledged new aid. The deliveries will start in the spring.",)}),
    ("RTF", b"{\\rtf1\\ansi\\deff0 {\\fonttbl {\\f0 Times;}}\\f0 Reuters.- 02.03.2024\\par ## Title\\par}",
     {"rejected": (ReasonKind.NOT_PLAIN_TEXT, 1)}),
    ("template", doc("## [English title]", "## [Заголовок українською]", "Текст резюме. https://", head=(
        "Видання.- ДД.ММ.РРРР", "Автор")), {"rejected": (ReasonKind.TEMPLATE, 5)}),
    ("template in words", doc("## Title in English", "## Заголовок українською мовою", head=("Source.- DD.MM.YYYY",)),
     {"rejected": (ReasonKind.TEMPLATE, 3)}),
    ("mojibake repaired", doc(EN, UK, f"{UKS} {URL}", P1).decode().encode("utf-8").decode("latin-1")
     .encode(), {"title.uk": UK[3:], "summary.uk": UKS, "note": (7, "mojibake")}),
    ("cp1251 mojibake repaired", doc(EN, UK, f"{UKS} {URL}", P1).decode("utf-8").encode("utf-8").decode("cp1251")
     .encode(), {"title.uk": UK[3:], "summary.uk": UKS}),
    ("code fence", b"```\n" + doc(EN, P1) + b"\n```\n", {"title.en": EN[3:], "source": "Reuters", "body": (P1,)}),
    ("code fence with a language", b"```text\n" + doc(EN, P1) + b"\n```", {"title.en": EN[3:]}),
    ("a single title line", b"## Ukraine gets new aid from its allies\n", {"rejected": (ReasonKind.NO_TEXT, 1)}),
    ("two digests, no blank line", doc(EN, UK, f"{UKS} {URL}", P1 + "\nBBC News: 20/10/2022\nBecky Morton\n"
                                       "## Liz Truss resigns"), {"rejected": (ReasonKind.TWO_DOCUMENTS, 12)}),
    ("two digests, no blank line nor authors", doc(EN, P1 + "\nTime.- 13.09.2023\n## Second title"),
     {"rejected": (ReasonKind.TWO_DOCUMENTS, 8)}),

    # 10. what editors are told --------------------------------------------------------------------
    ("a Russian summary costs the uk feeds", doc(EN, UK, "Союзники пообещали Украине новую помощь, сообщили "
                                                 f"чиновники в четверг. {URL}", P1),
     {"summary.uk": None, "note": (9, "missing from the /uk/ feeds")}),
]


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_pasted(data: bytes, expected: dict[str, object]) -> None:
    check_parsed(data, "pasted.txt", expected)



def test_missing_languages_are_explained() -> None:
    d = parse_document(doc(EN, UK, f"Союзники пообещали Украине новую помощь, сообщили чиновники. {URL}", P1), "x.txt")
    assert d.languages == ("en",) and "uk" in d.missing() and "line 9" in d.missing()["uk"]
    assert any(w.kind is NoteKind.LANGUAGE for w in d.warnings)
