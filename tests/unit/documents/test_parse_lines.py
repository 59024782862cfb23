"""Every warning and every rejection names the 1-based line of the file as written that it concerns."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedsvc.documents.model import Document, Note, ReasonKind, Rejected
from feedsvc.documents.parse import parse_document

EN_TITLE = "## Ukraine gets new aid from its allies"
UK_TITLE = "## Україна отримала нову допомогу від союзників"


def parse(text: str | bytes) -> Document:
    return parse_document(text.encode() if isinstance(text, str) else text, "lines.txt")


def note(d: Document, text: str) -> Note:
    found = [w for w in d.warnings if text in w.text]
    assert len(found) == 1, d.warnings
    return found[0]


def rejected(data: bytes, **kwargs: int) -> tuple[ReasonKind, int | None]:
    with pytest.raises(Rejected) as info:
        parse_document(data, "lines.txt", **kwargs)
    return info.value.reason.kind, info.value.reason.line


# A document whose lines are not where a naive count would put them: a BOM, CRLF, blank lines on top,
# hard-wrapped paragraphs. The numbers on the right are the lines as an editor shows them.
MESSY = "\r\n".join([
    "",  # 1
    "",  # 2
    "Reuters.- 31.02.2024",  # 3: a date that does not exist
    "",  # 4
    "Jane Doe",  # 5
    "",  # 6
    EN_TITLE,  # 7
    "## A second English title, ignored",  # 8
    UK_TITLE,  # 9
    "",  # 10
    "Союзники пообіцяли Україні нову допомогу,",  # 11: a summary hard-wrapped over three lines,
    "повідомили посадовці у четвер. Постачання",  # 12
    "почнуться навесні.",  # 13: with no URL at its end
    "",  # 14
    "Allies pledged new aid to Ukraine on Thursday,",  # 15
    "officials said. The deliveries will start \x07in",  # 16: a control character
    "the spring, they said.",  # 17
    "",  # 18
    "Лидеры России и Северной Кореи встретились на",  # 19: a Russian paragraph, hard-wrapped
    "отдаленном сибирском ракетном комплексе.",  # 20
    "",  # 21
    "An arms deal would violate international sanctions.",  # 22
])


def test_messy_document_lines() -> None:
    d = parse(b"\xef\xbb\xbf" + MESSY.encode())
    assert d.date is None and note(d, "unparseable date '31.02.2024'").line == 3
    assert note(d, "second en title ignored").line == 8
    assert note(d, "no source URL at the end of the Ukrainian summary").line == 13  # the summary's last line
    assert note(d, "removed 1 control").line == 16
    assert note(d, "Russian paragraph dropped").line == 19  # a paragraph is on its first line
    assert d.summary.uk == ("Союзники пообіцяли Україні нову допомогу, повідомили посадовці у четвер. "
                            "Постачання почнуться навесні.")
    assert d.body == ("Allies pledged new aid to Ukraine on Thursday, officials said. The deliveries will start in "
                      "the spring, they said.", "An arms deal would violate international sanctions.")
    assert [w.line for w in d.warnings] == sorted(w.line or 0 for w in d.warnings)


def test_long_title_cut_on_its_line() -> None:
    d = parse("\n".join(["Reuters.- 02.03.2024", "", "## " + "Officials say the war will go on " * 200, "",
                         "Allies pledged new aid to Ukraine on Thursday, officials said."]))
    assert note(d, "title cut to").line == 3 and d.title.en and len(d.title.en) <= 300


def test_wrapped_heading_is_on_its_first_line() -> None:
    d = parse("\n".join(["Reuters.- 02.03.2024", "", EN_TITLE, "", "## Ким Чен Ын прибыл", "в Россию на поезде",
                         "", "Allies pledged new aid."]))
    assert note(d, "Russian title dropped").line == 5


def test_control_characters_on_several_lines() -> None:
    d = parse("Reuters.- 02.03.2024\n\n## Title \x01 of the war\n\nAllies\x02 pledged\x03 aid.\n")
    assert note(d, "removed 3 control").line == 3 and "(lines 3, 5)" in note(d, "removed 3").text


def test_lone_cr_and_crlf_end_lines_but_unicode_separators_do_not() -> None:
    d = parse("Reuters.- 31.02.2024\r\rJane Doe\r\n\r\n## Title\u2028\u2028Allies\x01 pledged aid.\n")
    assert note(d, "unparseable date").line == 1 and note(d, "removed 1 control").line == 5


def test_header_lines() -> None:
    d = parse("\n\nReuters.- 02.03.2024\nJane Doe\nan extra line\n\n## Title\n\nText here.")
    assert note(d, "ignored line before the title").line == 5
    d = parse("\n\n## Title\n\nText here.")
    assert note(d, "no source line").line == 3
    d = parse("Time\n\n## Title\n\nText here.")
    assert note(d, "no date in the source line").line == 1


def test_summary_notes() -> None:
    d = parse("\n\n".join(["Reuters.- 02.03.2024", EN_TITLE, "Союзники пообіцяли допомогу. https://x.org/a https://y.org/b",
                           "Allies pledged aid.", "https://z.org/c"]))
    assert d.link == "https://x.org/a"
    assert [w.line for w in d.warnings if "extra source URL" in w.text] == [5, 9]
    assert note(d, "Ukrainian summary without a Ukrainian title").line == 5


@pytest.mark.parametrize(("data", "kind", "line"), [
    (b"", ReasonKind.EMPTY, None),
    (b"\n \n\t\n", ReasonKind.EMPTY, None),
    (b"Reuters.- 02.03.2024\n\nJust text.\n", ReasonKind.NO_TITLE, None),
    (b"Reuters.- 02.03.2024\n\n\n## \xd0\x9a\xd0\xb8\xd0\xbc \xd0\xbf\xd1\x80\xd0\xb8\xd0\xb1\xd1\x8b\xd0\xbb"
     b" \xd0\xb2 \xd0\xa0\xd0\xbe\xd1\x81\xd1\x81\xd0\xb8\xd1\x8e\n", ReasonKind.NO_TITLE, 4),  # only a Russian title
    (b"Reuters.- 02.03.2024\n\n## Caf\xe9 au lait\n\nText.\n", ReasonKind.ENCODING, 3),
    ("Reuters.- 02.03.2024\n\n## Title\n".encode("utf-16"), ReasonKind.ENCODING, 1),
    (b"Reuters.- 02.03.2024\n\n## Title\n" + bytes(range(1, 9)) * 20, ReasonKind.BINARY, 4),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, ReasonKind.BINARY, 1),
    (b"Reuters.- 02.03.2024\n\n## Title\n\n" + b"word " * 5000 + b"\n", ReasonKind.LONG_LINE, 5),
])
def test_rejection_lines(data: bytes, kind: ReasonKind, line: int | None) -> None:
    assert rejected(data) == (kind, line)


def test_too_large_has_no_line() -> None:
    assert rejected(b"## Title\n" + b"x" * 100, max_bytes=50) == (ReasonKind.TOO_LARGE, None)


def test_cp1251_note_concerns_the_whole_file() -> None:
    text = "Reuters.- 02.03.2024\n\n## Україна отримала нову допомогу\n\nСоюзники пообіцяли Україні нову допомогу."
    d = parse(text.encode("cp1251"))
    assert note(d, "cp1251").line is None


LINES = st.sampled_from([
    "Reuters.- 02.03.2024", "Time.- 31.02.2023", "The Economist, 03/04/2024", "By Jane Doe", "Jane Doe, BBC News",
    EN_TITLE, UK_TITLE, "## Ким Чен Ын прибыл в Россию", "# Second title", "##", "Allies pledged aid.",
    "Союзники пообіцяли Україні допомогу.", "Лидеры России встретились.", "https://x.org/a", "Advertisement",
    "Read More: x", "(AP Photo/X)", "Ally\x01 text", "\u202eTitle", "a\u200bb", "", "", "Die Verbündeten haben "
    "der Ukraine am Donnerstag neue Hilfe zugesagt, teilten Beamte in Berlin heute mit.", "\ufeff",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LINES, max_size=25), st.sampled_from(["\n", "\r\n", "\r"]))
def test_every_note_has_a_line_of_the_file(lines: list[str], newline: str) -> None:
    data = newline.join(lines).encode()
    try:
        d = parse(data)
    except Rejected as error:
        line = error.reason.line
        assert line is None or 1 <= line <= len(lines)
        return
    for w in d.warnings:
        assert w.line is not None and 1 <= w.line <= max(1, len(lines)), (w, lines)
