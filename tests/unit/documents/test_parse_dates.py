"""The date rules of the source line (feedsvc/documents/parse.py, _DATE_FORMS): each form, and what is
refused. A date the parser returns is right; one it is not sure of is None with a warning."""

from __future__ import annotations

import datetime as dt

import pytest

from feedsvc.documents import parse as parse_module
from feedsvc.documents.parse import _MONTH_NAMES, _WEEKDAY_NAMES, _numbered, parse_document

D = dt.date


def source_line(line: str) -> tuple[str | None, dt.date | None, list[str]]:
    d = parse_document(f"{line}\n\n## Ukraine gets new aid\n\nAllies pledged aid.".encode(), "date.txt")
    assert all(w.line == 1 for w in d.warnings), d.warnings
    return d.source, d.date, [w.text for w in d.warnings]


@pytest.mark.parametrize(("written", "expected"), [
    # ymd: year first is always year-month-day
    ("2023-09-13", D(2023, 9, 13)), ("2024-11-06T10:36:00Z", D(2024, 11, 6)), ("2024-11-06T23:59:59.5+02:00", D(2024, 11, 6)),
    ("2024.08.07", D(2024, 8, 7)), ("2024/03/02", D(2024, 3, 2)), ("2024-3-2", D(2024, 3, 2)),
    # dmy: dots are day first; slashes and dashes only where a part > 12 settles the order
    ("13.09.2023", D(2023, 9, 13)), ("13.9.2023", D(2023, 9, 13)), ("02.03.2024", D(2024, 3, 2)),
    ("24.10.22", D(2022, 10, 24)), ("01.05.99", D(1999, 5, 1)), ("20/10/2022", D(2022, 10, 20)),
    ("10/24/2023", D(2023, 10, 24)), ("13-09-2023", D(2023, 9, 13)), ("05/05/2024", D(2024, 5, 5)),
    ("20/10/22", D(2022, 10, 20)), ("10.24.2023", D(2023, 10, 24)),
    # day, month name, year
    ("1 May 2023", D(2023, 5, 1)), ("13 September 2023", D(2023, 9, 13)), ("13th of September, 2023", D(2023, 9, 13)),
    ("Sat 8 Oct 2022 17.40 BST", D(2022, 10, 8)), ("Saturday, 8 October 2022", D(2022, 10, 8)),
    ("13-Sep-2023", D(2023, 9, 13)), ("13 Sept. 2023", D(2023, 9, 13)),
    ("11 листопада 2022", D(2022, 11, 11)), ("25 січня 2023", D(2023, 1, 25)), ("25 СІЧНЯ 2023 р.", D(2023, 1, 25)),
    ("25 січень 2023 року", D(2023, 1, 25)), ("субота, 8 жовтня 2022", D(2022, 10, 8)),
    ("2 mars 2024", D(2024, 3, 2)), ("1er mars 2024", D(2024, 3, 1)), ("samedi 2 mars 2024", D(2024, 3, 2)),
    ("14 juillet 2023", D(2023, 7, 14)), ("2 févr. 2024", D(2024, 2, 2)), ("15 août 2023", D(2023, 8, 15)),
    ("2. März 2024", D(2024, 3, 2)), ("Samstag, 2. März 2024", D(2024, 3, 2)), ("3. Oktober 2023", D(2023, 10, 3)),
    # month name, day, year
    ("Sept. 13, 2023", D(2023, 9, 13)), ("September 13 2023", D(2023, 9, 13)), ("March 2nd, 2024", D(2024, 3, 2)),
    ("Wednesday, September 13, 2023", D(2023, 9, 13)),
    # what may follow a date
    ("13.09.2023 10:15", D(2023, 9, 13)), ("13 September 2023, 10:15 a.m. EDT", D(2023, 9, 13)),
    ("13.09.2023 о 10:15", D(2023, 9, 13)), ("2024-11-06 10:36 UTC+2", D(2024, 11, 6)),
    ("30.04.2025 (оновлено 01.05.2025)", D(2025, 4, 30)), ("30.04.2025 [updated 01.05.2025]", D(2025, 4, 30)),
])
def test_date_forms(written: str, expected: dt.date) -> None:
    assert source_line(f"Reuters - {written}") == ("Reuters", expected, [])


@pytest.mark.parametrize(("written", "warning"), [
    ("03/04/2024", "ambiguous date '03/04/2024' left out: 3 April or 4 March 2024?"),
    ("03-04-2024", "ambiguous date"),
    ("03/04/24", "ambiguous date"),
    ("02-03-24", "two-digit year with dashes"),
    ("31.02.2023", "unparseable date '31.02.2023' left out: no such date"),
    ("13/13/2023", "no such date"),
    ("31 June 2023", "no such date"),
    ("Sun 8 Oct 2022", "8 October 2022 was a Saturday, not Sun"),
    ("99.99.9999", "year out of range"),
    ("13.09.1850", "year out of range"),
    ("13.09", "unparseable date '13.09'"),
    ("September 2023", "unparseable date 'September 2023'"),
    ("soon", "unparseable date 'soon'"),
    ("2023 Sept 13", "unparseable date"),
])
def test_uncertain_dates_are_none_with_a_warning(written: str, warning: str) -> None:
    source, date, warnings = source_line(f"Reuters - {written}")
    assert (source, date) == ("Reuters", None)
    assert any(warning in w for w in warnings), warnings


@pytest.mark.parametrize(("line", "source", "date"), [
    ("Time.- 13.09.2023", "Time", D(2023, 9, 13)),
    ("Reuters | 2 March 2024", "Reuters", D(2024, 3, 2)),
    ("BBC News: 20/10/2022", "BBC News", D(2022, 10, 20)),
    ("AP.— 22.06.2023", "AP", D(2023, 6, 22)),
    ("13.07.2024 - Reuters", "Reuters", D(2024, 7, 13)),
    ("13.07.2024, 10:15 — Reuters", "Reuters", D(2024, 7, 13)),
    ("Politico Europe — 2024/03/02", "Politico Europe", D(2024, 3, 2)),
    ("The Guardian, 1 May 2023", "The Guardian", D(2023, 5, 1)),
    ("Time, Sept. 13, 2023", "Time", D(2023, 9, 13)),
    ("Channel 4 News - 2 May 2024", "Channel 4 News", D(2024, 5, 2)),
    ("Le Monde – 2 mars 2024", "Le Monde", D(2024, 3, 2)),
])
def test_source_line_orders_and_separators(line: str, source: str, date: dt.date) -> None:
    assert source_line(line) == (source, date, [])


def test_source_line_without_a_publication_or_a_date() -> None:
    assert source_line("13.09.2023") == (None, D(2023, 9, 13), ["no publication name in the source line"])
    assert source_line("Time") == ("Time", None, ["no date in the source line"])
    assert source_line("Reuters | soon") == ("Reuters", None, ["unparseable date 'soon'"])


def test_the_first_date_is_the_articles() -> None:
    assert source_line("Reuters - 30.04.2025, updated 01.05.2025")[1] == D(2025, 4, 30)


def test_month_and_weekday_tables_are_consistent() -> None:
    months, weekdays = _numbered(_MONTH_NAMES), _numbered(_WEEKDAY_NAMES)
    assert set(months.values()) == set(range(1, 13)) and set(weekdays.values()) == set(range(1, 8))
    assert all(name == name.lower() for name in [*months, *weekdays])
    assert months is not parse_module._MONTHS and months == parse_module._MONTHS
    with pytest.raises(ValueError, match="'mar'"):
        _numbered({"a": ("jan", "mar"), "b": ("mar",)})
