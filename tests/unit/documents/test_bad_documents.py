"""Every class of broken file, to the parser alone: the committed corpus (tests/bad/) and the files
too big, binary or odd to commit; each is rejected quickly with its reason, or accepted with a
warning. The same files beside good documents in a running service: integration/test_badinput.py."""

from __future__ import annotations

import time

import pytest
from helpers import BAD
from helpers.corpora import BAD_EXPECTED, MIB, generated_bad

from feedsvc.documents.model import Rejected
from feedsvc.documents.parse import parse_document

# -- the parser alone on each --------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(BAD_EXPECTED))
def test_corpus_file(name: str) -> None:
    data = (BAD / name).read_bytes()
    expected = BAD_EXPECTED[name]
    if expected is None:
        document = parse_document(data, name, max_bytes=MIB)
        assert document.title.en or document.title.uk
        assert document.warnings, "an accepted-but-damaged file carries a warning"
    else:
        with pytest.raises(Rejected) as caught:
            parse_document(data, name, max_bytes=MIB)
        assert expected in str(caught.value.reason)
        assert "\n" not in str(caught.value.reason) and len(str(caught.value.reason)) < 300


def test_corpus_is_complete() -> None:
    assert sorted(p.name for p in BAD.iterdir()) == sorted(BAD_EXPECTED), "tests/bad/ and BAD_EXPECTED disagree"


@pytest.mark.parametrize("name", sorted(generated_bad()))
def test_generated_file(name: str) -> None:
    data, expected = generated_bad()[name]
    started = time.perf_counter()
    with pytest.raises(Rejected) as caught:
        parse_document(data, name, max_bytes=MIB)
    assert expected and expected in str(caught.value.reason)
    assert time.perf_counter() - started < 5, "a bad file must be rejected quickly"
