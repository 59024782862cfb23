"""Tests of feedsvc.summary: sentence boundaries and the English summary."""

from __future__ import annotations

import pytest
from helpers import SEED

from feedsvc.documents.summary import english_summary, is_credit, is_read_more, sentences, strip_dateline


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("They met with Turkey and the U.N. They did not agree.",
         ["They met with Turkey and the U.N.", "They did not agree."]),
        ("The blast came at about 1:30 a.m. Tuesday.", ["The blast came at about 1:30 a.m. Tuesday."]),
        ("The blast came at about 1:30 a.m. Tuesday. Officials said more.",
         ["The blast came at about 1:30 a.m. Tuesday.", "Officials said more."]),
        ("It ended at 5 p.m. The crowd left.", ["It ended at 5 p.m.", "The crowd left."]),
        ("The U.S. Army said Adm. Kim and Gen. Lee met Dr. Smith and Mr. Jones Jr. on Monday.",
         ["The U.S. Army said Adm. Kim and Gen. Lee met Dr. Smith and Mr. Jones Jr. on Monday."]),
        ("He works for Acme Inc. The company grew.", ["He works for Acme Inc.", "The company grew."]),
        ("Acme Inc. said prices rose 3.5% in May. Sales fell.", ["Acme Inc. said prices rose 3.5% in May.", "Sales fell."]),
        ('He said "we will talk." Then he left.', ['He said "we will talk."', "Then he left."]),
        ('Putin said "there is no rush. There is time." He left.',
         ['Putin said "there is no rush.', 'There is time."', "He left."]),
        ("Trump vs. Biden is on. No. 5 won.", ["Trump vs. Biden is on.", "No. 5 won."]),
        ("No final stop", ["No final stop"]),
    ],
)
def test_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_seed_summary() -> None:
    paragraphs = SEED.read_text(encoding="utf-8").split("\n\n")[5:]
    summary = english_summary(paragraphs)
    assert summary.startswith("The leaders of Russia and North Korea met at a remote Siberian rocket launch facility")
    assert 400 <= len(summary) <= 600 and summary.endswith("rockets.")


def test_budget_and_at_least_one_sentence() -> None:
    long = "word " * 150 + "end."
    assert english_summary([long, "Second."]) == long
    short = ["One sentence here.", "Another one here."]
    assert english_summary(short) == "One sentence here. Another one here."
    many = ["This sentence is exactly fifty characters long ok." for _ in range(30)]
    out = english_summary(many, budget=500)
    assert 400 <= len(out) <= 600
    assert len(english_summary(many, budget=200)) <= 240


def test_empty_is_none() -> None:
    assert english_summary([]) is None and english_summary(["", "  "]) is None
    assert english_summary(["Read More: x", "—Doe reported from Kyiv."]) is None


def test_skips_read_more_credit_and_dateline() -> None:
    out = english_summary(["WASHINGTON (AP) — Talks began.", "Read More: Elsewhere", "—Doe reported."])
    assert out == "Talks began."


def test_helpers() -> None:
    assert is_read_more("Read More: x") and is_read_more("read more: x") and not is_read_more("Read more of this")
    assert is_credit("—Litvinova reported from Tallinn.") and is_credit("-- Doe reported.")
    assert is_credit("Associated Press journalists Jim Heintz in Tallinn, Estonia contributed.")
    assert is_credit("Jane Doe in Kyiv contributed to this report.")
    assert not is_credit("The two leaders will sit down for talks.")
    assert strip_dateline("KYIV, Ukraine (AP) — Russia attacked.") == "Russia attacked."
    assert strip_dateline("LONDON (Reuters) - Prices rose.") == "Prices rose."
    assert strip_dateline("The U.S. (AP) said") == "The U.S. (AP) said"
