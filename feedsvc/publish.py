"""Published bytes: every rendered feed with its gzip form and validators, swapped in per change."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Hashable, Mapping

from multidict import CIMultiDict, CIMultiDictProxy

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@dataclass(frozen=True, slots=True)
class Rendered:
    """One representation ready to send: bodies, validators and the headers that go with them."""

    body: bytes
    gzipped: bytes
    etag: str
    last_modified: dt.datetime
    headers: CIMultiDictProxy[str]
    headers_gzip: CIMultiDictProxy[str]
    quoted: frozenset[str]  # both ETags as sent, for the common exact-match If-None-Match

    @classmethod
    def build(cls, body: bytes, media_type: str, updated: dt.datetime | None,
              extra: Mapping[str, str]) -> Rendered:
        # A strong ETag from the bytes: replicas rendering the same folder send the same validator.
        tag = hashlib.sha256(body).hexdigest()[:32]
        # mtime=0 keeps the gzip bytes, and so their ETag, identical across processes.
        gzipped = gzip.compress(body, compresslevel=6, mtime=0)
        last_modified = (updated or EPOCH).replace(microsecond=0)
        common = {
            "Content-Type": media_type,
            "Last-Modified": format_datetime(last_modified, usegmt=True),
            "Vary": "Accept-Encoding",
            **extra,
        }
        plain = CIMultiDict(common, ETag=f'"{tag}"')
        packed = CIMultiDict(common, ETag=f'"{tag}-gzip"')
        packed["Content-Encoding"] = "gzip"
        return cls(body, gzipped, tag, last_modified, CIMultiDictProxy(plain), CIMultiDictProxy(packed),
                   frozenset((plain["ETag"], packed["ETag"])))

    def matches(self, if_none_match: str) -> bool:
        """RFC 9110 weak comparison against an If-None-Match list; either coding's tag matches."""
        if if_none_match in self.quoted:
            return True
        for candidate in if_none_match.split(","):
            candidate = candidate.strip()
            if candidate == "*":
                return True
            if candidate.startswith("W/"):
                candidate = candidate[2:]
            candidate = candidate.strip('"')
            if candidate == self.etag or candidate == f"{self.etag}-gzip":
                return True
        return False


class Shelf:
    """The current bytes: each route's default page by path, replaced per change; other variants
    (pages, limits, base URLs) in an LRU emptied on every change."""

    def __init__(self, extra_capacity: int = 256) -> None:
        self._defaults: dict[str, Rendered] = {}
        self._extra: OrderedDict[Hashable, Rendered] = OrderedDict()
        self._capacity = extra_capacity
        self.generation = 0

    def default(self, path: str) -> Rendered | None:
        return self._defaults.get(path)

    def put_default(self, path: str, rendered: Rendered) -> None:
        self._defaults[path] = rendered

    def extra(self, key: Hashable) -> Rendered | None:
        found = self._extra.get(key)
        if found is not None:
            self._extra.move_to_end(key)
        return found

    def put_extra(self, key: Hashable, rendered: Rendered, generation: int) -> None:
        if generation != self.generation:
            return  # rendered from data that has changed since
        self._extra[key] = rendered
        while len(self._extra) > self._capacity:
            self._extra.popitem(last=False)

    def changed(self) -> None:
        """The index changed: variants rendered on demand are stale now."""
        self.generation += 1
        self._extra.clear()
