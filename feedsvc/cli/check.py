"""`feedsvc check [--strict] [--json] PATH...`: what the service would do with each file, before it goes out.

One line per finding in the compiler convention (`FILE:LINE: error: ...`), so editors and their
text editors jump straight to it; for a document left out of a language's feeds, a note saying
where it goes and why not there; then a one-line total. Exit 0 when every file would be
published, 1 when any would be rejected (or, with --strict, has a warning), 2 on a usage error.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from feedsvc.documents.files import DRAFT_REASON, DRAFTS, classify, is_draft, read_document, shown, skipped_folder
from feedsvc.documents.model import Document, Ignored, Reason, Rejected


def feeds(document: Document) -> list[str]:
    """The views a published document appears in: the bilingual one always (a title is enough), and
    each language it has a title and text in."""
    return ["bilingual", *document.languages]


def placement(document: Document) -> str | None:
    """Where the document goes and why it is missing from the other feeds, for editors; None when it
    is in all of them. A warning about a dropped paragraph does not say that it cost a whole feed."""
    missing = document.missing()
    if not missing:
        return None
    why = "; ".join(f"not in /{lang}/: {text}" for lang, text in missing.items())
    return f"published to: {', '.join(feeds(document))}; {why}"


@dataclass(frozen=True, slots=True)
class Checked:
    """One file's outcome: its document (perhaps with warnings) or the reason it is rejected."""

    path: str
    document: Document | None
    reason: Reason | None
    draft: bool = False  # in a drafts folder: checked, never published where it is

    def lines(self) -> list[str]:
        draft = [_finding(self.path, None, "note", DRAFT_REASON)] if self.draft else []
        if self.reason is not None:
            return [_finding(self.path, self.reason.line, "error", self.reason.text), *draft]
        assert self.document is not None
        found = [_finding(self.path, w.line, "note" if w.info else "warning", w.text) for w in self.document.warnings]
        # Last, and a note with no line of its own: it sums up the warnings above (which carry the
        # lines), and a file in every feed gets no line at all, so a clean folder stays silent.
        where = placement(self.document)
        if where is not None:
            found.append(_finding(self.path, None, "note", where))
        return found + draft

    def to_json(self) -> dict[str, object]:
        if self.reason is not None:
            return {"path": self.path, "state": "rejected", "reason": self.reason.to_json(), "feeds": [],
                    "missing": None, "draft": self.draft}
        assert self.document is not None
        # A draft's feeds are those it goes to once moved out of the drafts folder.
        return {"path": self.path, "state": "draft" if self.draft else "published", "record": self.document.to_json(),
                "feeds": feeds(self.document), "missing": self.document.missing(), "draft": self.draft}


def _finding(path: str, line: int | None, level: str, text: str) -> str:
    return f"{path}:{line}: {level}: {text}" if line is not None else f"{path}: {level}: {text}"


def files(paths: list[str], pattern: str) -> Iterator[tuple[Path, Path]]:
    """(file, the folder its id is taken from) for every document file under `paths`: a named
    file always, a folder's files as the service would pick them (pattern, no hidden files, no
    drafts folder below the one named: `check seeds/_drafts/` checks the drafts)."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            for folder, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not skipped_folder(d))
                for file in sorted(names):
                    full = Path(folder, file)
                    if classify(full.relative_to(path).as_posix(), pattern) is None:
                        yield full, path
        else:
            yield path, path.parent


def check(path: Path, root: Path, *, pattern: str, max_bytes: int) -> Checked | None:
    shown_path = shown(str(path))
    draft = is_draft(os.path.abspath(path))
    try:
        document = read_document(path, root, pattern="*" if root == path.parent else pattern, max_bytes=max_bytes)
    except Ignored:
        return None
    except Rejected as error:
        return Checked(shown_path, None, error.reason, draft)
    return Checked(shown_path, document, None, draft)


def check_command(paths: list[str], *, strict: bool, as_json: bool, pattern: str, max_bytes: int) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8")
    missing = [p for p in paths if not os.path.lexists(p)]
    if missing:
        print(f"feedsvc check: no such file or folder: {', '.join(map(shown, missing))}", file=sys.stderr)
        return 2
    total = rejected = warned = drafts = drafts_warned = 0
    for path, root in files(paths, pattern):
        result = check(path, root, pattern=pattern, max_bytes=max_bytes)
        if result is None:
            continue
        total += 1
        rejected += result.reason is not None
        if result.draft and result.document is not None:
            drafts += 1
            drafts_warned += result.document.warned
        else:
            warned += result.document is not None and result.document.warned
        if as_json:
            print(json.dumps(result.to_json(), ensure_ascii=False), flush=False)
        else:
            for line in result.lines():
                print(line)
    kept = f", {drafts} draft{'s' if drafts != 1 else ''} ({drafts_warned} with warnings; in {DRAFTS}/, not " \
        f"published)" if drafts else ""
    summary = (f"{total} file{'s' if total != 1 else ''}: {total - rejected - drafts} would be published "
               f"({warned} with warnings){kept}, {rejected} rejected")
    print(summary, file=sys.stderr if as_json else sys.stdout)
    return 1 if rejected or (strict and (warned or drafts_warned)) else 0
