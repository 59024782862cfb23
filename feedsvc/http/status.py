"""The newsroom's view of the folder: every file the service has seen, what became of it, and why.

Read on the worker thread through the index's read facade (store.queries.Reader); problems first
(rejected, then published with warnings), then the latest published. Paged and filterable, so it
stays small at 100k files.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from urllib.parse import urlencode

from feedsvc.documents.files import shown
from feedsvc.documents.model import Reason, document_id
from feedsvc.feeds import VIEWS
from feedsvc.feeds.views import BILINGUAL, quote_id, utc
from feedsvc.settings import NEWSROOM_PAGE_SIZE
from feedsvc.store.queries import Filed, Reader


class State(enum.Enum):
    PUBLISHED = "published"
    WARNED = "warned"  # published, with warnings
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Query:
    """What /status and /status.json were asked for."""

    state: State | None = None
    q: str | None = None
    page: int = 1
    limit: int = NEWSROOM_PAGE_SIZE

    def url(self, base: str, page: int) -> str:
        params = {k: v for k, v in (("state", self.state.value if self.state else None), ("q", self.q),
                                    ("limit", str(self.limit) if self.limit != NEWSROOM_PAGE_SIZE else None),
                                    ("page", str(page) if page != 1 else None)) if v}
        return base + ("?" + urlencode(params) if params else "")


def _rejected_json(path: str, reason: Reason, base_url: str) -> dict[str, object]:
    safe = shown(path)
    preview = f"{base_url}/preview/{quote_id(document_id(path))}" if safe == path else None
    return {"path": safe, "state": "rejected", "languages": [], "title": {"en": None, "uk": None},
            "source": None, "date": None, "published": None, "updated": None, "warnings": [],
            "reason": reason.to_json(), "feeds": [], "missing": None, "preview": preview}


def _published_json(filed: Filed, base_url: str) -> dict[str, object]:
    doc = filed.entry.document
    feeds = [base_url + v.path for v in VIEWS if v.lang is BILINGUAL or v.lang in doc.languages]
    return {"path": filed.path, "state": "published", "id": doc.id, "languages": list(doc.languages),
            "title": doc.title.to_json(), "source": doc.source, "date": doc.date.isoformat() if doc.date else None,
            "published": utc(filed.entry.published).isoformat(), "updated": utc(filed.entry.updated).isoformat(),
            "warnings": [w.to_json() for w in doc.warnings], "reason": None, "feeds": feeds,
            "missing": doc.missing(), "preview": f"{base_url}/preview/{quote_id(doc.id)}"}


def status(reader: Reader, query: Query, base_url: str) -> dict[str, object]:
    """One page of files, with counts (worker thread)."""
    rejected = [(p, r) for p, r in reader.rejected() if not query.q or query.q.lower() in shown(p).lower()]
    warned_total = reader.count_files(warned=True, q=query.q)
    published_total = reader.count_files(warned=None, q=query.q)
    files: list[dict[str, object]] = []
    offset = (query.page - 1) * query.limit
    wanted = query.limit
    if query.state in (None, State.REJECTED):
        chosen = rejected[offset:offset + wanted]
        files += [_rejected_json(p, r, base_url) for p, r in chosen]
        offset = max(0, offset - len(rejected))
        wanted -= len(chosen)
    if query.state in (None, State.WARNED, State.PUBLISHED) and wanted > 0:
        warned = True if query.state is State.WARNED else None
        found = reader.files(warned=warned, q=query.q, limit=wanted, offset=offset)
        files += [_published_json(f, base_url) for f in found]
    total = {None: len(rejected) + published_total, State.REJECTED: len(rejected),
             State.WARNED: warned_total, State.PUBLISHED: published_total}[query.state]
    body: dict[str, object] = {
        "files": files, "total": total, "page": query.page, "limit": query.limit,
        "counts": {"published": published_total, "warned": warned_total, "rejected": len(rejected)},
    }
    if query.page * query.limit < total:
        body["next"] = query.url(base_url + "/status.json", query.page + 1)
    return body


def preview(reader: Reader, doc_id: str) -> Filed | tuple[str, Reason] | None:
    """What /preview/{id} shows: the published document, or why its file is rejected (worker thread)."""
    return reader.find(doc_id)
