"""Which paths are drafts: a folder named exactly `_drafts`, at any depth, never a file's own name."""

from __future__ import annotations

import pytest

from feedsvc.documents.files import DRAFT_REASON, DRAFTS, classify, is_draft, skipped_folder


@pytest.mark.parametrize("path", [f"{DRAFTS}/a.txt", f"desk/{DRAFTS}/a.txt", f"{DRAFTS}/deep/er/a.txt"])
def test_files_in_a_drafts_folder_are_not_documents(path: str) -> None:
    assert classify(path) == DRAFT_REASON
    assert is_draft(path) and is_draft(f"/home/editor/seeds/{path}")


@pytest.mark.parametrize("path", ["_drafts.txt", "drafts/a.txt", "_Drafts/a.txt", "_draft/a.txt", "x_drafts/a.txt"])
def test_other_names_are_published(path: str) -> None:
    assert classify(path) is None
    assert not is_draft(path)


def test_a_hidden_folder_is_said_first_and_both_are_skipped_by_the_walk() -> None:
    assert classify(f".git/{DRAFTS}/a.txt") == "inside hidden folder '.git'"
    assert skipped_folder(DRAFTS) and skipped_folder(".git") and not skipped_folder("drafts")
