"""Page furniture (feedsvc/documents/summary.py, FURNITURE): a case for each rule, and article text
that no rule may take."""

from __future__ import annotations

import re

import pytest

from feedsvc.documents.language import script_of
from feedsvc.documents.parse import parse_document
from feedsvc.documents.summary import FURNITURE, english_summary, furniture

# (rule index in FURNITURE, paragraph): every rule has at least one case.
CASES: list[tuple[int, str]] = [
    (0, "Advertisement"), (0, "ADVERTISEMENT"), (0, "Story continues below advertisement"),
    (0, "Advertisement - Scroll to continue"),
    (1, "Read More: Why China, Russia, and North Korea Joining Forces Isn't a Prelude to War"),
    (1, "read more: Yet another"), (1, "Read more"), (1, "Read more — Kyiv braces for winter"),
    (2, "READ MORE Russia-Ukraine war at a glance: what we know on day 227"),
    (3, "Read more Subscribers only Why Kyiv is worried about the winter"),
    (4, "Related: EU agrees new sanctions package against Russia"), (4, "RELATED:"), (4, "Related articles: x"),
    (4, "Related"),
    (5, "Also read: What we know about the talks"), (5, "ALSO READ Kyiv prepares"), (5, "See also: the map"),
    (6, "Sign up for our Morning Briefing newsletter"), (6, "Subscribe to our newsletter"),
    (6, "Newsletter: the best of the week"), (6, "Skip past newsletter promotion"), (6, "after newsletter promotion"),
    (6, "Get our free morning newsletter"),
    (7, "Our Standards: The Thomson Reuters Trust Principles."),
    (8, "Image caption, Smoke rises from the Kerch bridge"), (8, "Image source, Getty Images"),
    (8, "Media caption, Watch: the moment the bridge was hit"),
    (9, "Ukrainian soldiers fire towards Russian positions near Bakhmut, Ukraine, Saturday, March 2, 2024. "
        "(AP Photo/Efrem Lukatsky)"),
    (9, "A destroyed tank in Kharkiv. (Photo by Genya Savilov/AFP via Getty Images)"), (9, "(AP Photo)"),
    (10, "Updated 2 March 2024"), (10, "Published: 13.09.2023 10:15 BST"), (10, "Last updated on March 2, 2024"),
    (11, "Editor's note: This story contains graphic descriptions."), (11, "Editor’s Note — updated"),
    (12, "This story has been updated with comments from officials."), (12, "This article was corrected on Monday."),
    (13, "Підготувала Олена Петренко"), (13, "Переклад: Іван Коваль"), (13, "Матеріал підготувала редакція Укрінформу"),
]

# Article text that begins (or ends) like furniture but is not.
ARTICLE = [
    "Read more of this and the rest, the minister said.",
    "Related talks in Geneva ended without a deal, officials said.",
    "Advertisement revenue rose 5% in the quarter, the company said.",
    "Subscribers to the service said prices rose.",
    "Signing up for the army is voluntary, the ministry said.",
    "Newsletters are popular in Kyiv.",
    "Our standards are high, the minister said.",
    "This story began in March (see the photo).",
    "The editor's note was read aloud in court.",
    "Officials said the photos (taken on Monday) were real.",
    "The agency's photo, by its own account, shows the site. (Photo courtesy of the ministry, " + "x" * 300 + ")",
    "Images showed the bridge: image caption software was not used.",
    "Updated figures showed 5 dead.",
    "Published in 2019, the report was ignored by officials for years, the minister told reporters on Monday.",
]


def test_every_rule_has_a_case() -> None:
    assert {index for index, _ in CASES} == set(range(len(FURNITURE)))


def test_rules_use_no_capturing_groups() -> None:
    for rule in FURNITURE:
        assert re.compile(rule.pattern).groups == 0, rule.name


@pytest.mark.parametrize(("index", "paragraph"), CASES)
def test_furniture_rule(index: int, paragraph: str) -> None:
    rule = FURNITURE[index]
    pattern = re.compile(rule.pattern)
    assert (pattern.search(paragraph[-200:]) if rule.end else pattern.match(paragraph)), paragraph
    assert furniture(paragraph) == rule.name
    assert furniture(paragraph, line=True) == (rule.name if rule.line else None)


@pytest.mark.parametrize("paragraph", ARTICLE)
def test_article_text_is_not_furniture(paragraph: str) -> None:
    assert furniture(paragraph) is None and furniture(paragraph, line=True) is None


BODY = "Allies pledged new aid to Ukraine on Thursday, officials said."
MORE = "The deliveries will start in the spring, according to the defence ministry."


@pytest.mark.parametrize(("index", "paragraph"), CASES)
def test_furniture_leaves_the_article_with_a_warning_on_its_line(index: int, paragraph: str) -> None:
    text = "\n\n".join(["Reuters.- 02.03.2024", "## Ukraine gets new aid", paragraph, BODY, paragraph, MORE, paragraph])
    d = parse_document(text.encode(), "furniture.txt")
    assert d.body == (BODY, MORE)
    assert d.summary.en == f"{BODY} {MORE}"  # never opens or closes the summary
    name = FURNITURE[index].name
    where = "summary" if script_of(paragraph) == "cyrillic" else "article"  # an editor's credit is Ukrainian
    assert [(w.line, w.text.split(":")[0]) for w in d.warnings] == [
        (line, f"{name} left out of the {where}") for line in (5, 9, 13)]


def test_summary_skips_furniture_given_directly() -> None:
    assert english_summary(["Editor's note: graphic.", "ADVERTISEMENT", BODY, "Sign up for our newsletter"]) == BODY
