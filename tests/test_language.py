"""Tests of feedsvc.language: script, Ukrainian vs Russian, English vs other."""

from __future__ import annotations

import pytest

from feedsvc.language import detect, detector, script_of

TITLES = [
    ("володимир путін і Кім Чен Ин зустрілися на віддаленому сибірському ракетному комплексі", "uk"),
    ("владимир путин и Ким Чен Ын встретились на удаленном сибирском ракетном комплексе", "ru"),
    ("NATO посилить присутність у Балтії", "uk"),
    ("НАТО усилит присутствие в Прибалтике", "ru"),
    ("Kim Jong Un прибув до росії", "uk"),
    ("Ким Чен Ын прибыл в Россию", "ru"),
    ("Зеленський заявив про наступ", "uk"),
    ("Зеленский заявил о наступлении", "ru"),
    ("Байден та Шольц обговорили допомогу", "uk"),
    ("Байден и Шольц обсудили помощь", "ru"),
    ("Зеленский посетил Київ", "ru"),
    ("vladimir putin and Kim Jong Un meet at remote siberian rocket launch facility", "en"),
    ("NATO summit in Vilnius", "en"),
    ("Kim Jong Un", "en"),
    ("Putin's gambit", "en"),
    ("Ukraine war: latest", "en"),
    # Short Latin-script text is English by policy: lingua cannot tell names from German here.
    ("Ukraine war: talks resume in Istanbul", "en"),
    ("Der Krieg in der Ukraine geht weiter", "en"),
    ("12345 — 67", None),
]


@pytest.mark.parametrize(("text", "expected"), TITLES)
def test_detect_titles(text: str, expected: str | None) -> None:
    assert detect(text) == expected


def test_long_texts() -> None:
    uk = "Лідери росії та Північної Кореї зустрілися на віддаленому сибірському ракетному комплексі для проведення саміту."
    ru = "Лидеры России и Северной Кореи встретились на отдаленном сибирском ракетном комплексе для проведения саммита."
    fr = ("Les dirigeants de la Russie et de la Corée du Nord se sont rencontrés dans une base de lancement "
          "isolée en Sibérie, pour un sommet qui souligne leurs intérêts communs.")
    assert (detect(uk), detect(ru), detect(fr)) == ("uk", "ru", "other")
    assert detect(uk + " https://time.com/a-long-english-looking-url-with-many-words-in-it") == "uk"


def test_script() -> None:
    assert script_of("Привіт") == "cyrillic" and script_of("Hello") == "latin"
    assert script_of("NATO посилить присутність") == "cyrillic"
    assert script_of("Дивіться https://example.com/some/long/english/path") == "cyrillic"
    assert script_of("1234 —") is None and script_of("") is None


def test_detector_built_once() -> None:
    assert detector() is detector() and detector("cyrillic") is detector("cyrillic")
