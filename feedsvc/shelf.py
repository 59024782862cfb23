"""Published bytes: every rendered page with its gzip form and validators, swapped in per change."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from email.utils import format_datetime

from multidict import CIMultiDict, CIMultiDictProxy


@dataclass(frozen=True, slots=True)
class Rendered:
    """One representation ready to send: bodies, validators and the headers that go with them.

    The headers are built once here, from the policy the caller passes (feedsvc.headers), so the
    request path only picks them up.
    """

    body: bytes
    gzipped: bytes
    etag: str
    last_modified: dt.datetime
    headers: CIMultiDictProxy[str]
    headers_gzip: CIMultiDictProxy[str]
    quoted: frozenset[str]  # both ETags as sent, for the common exact-match If-None-Match

    @classmethod
    def build(cls, body: bytes, media_type: str, updated: dt.datetime, extra: Mapping[str, str]) -> Rendered:
        # A strong ETag from the bytes: replicas rendering the same folder send the same validator.
        tag = hashlib.sha256(body).hexdigest()[:32]
        # mtime=0 keeps the gzip bytes, and so their ETag, identical across processes.
        gzipped = gzip.compress(body, compresslevel=6, mtime=0)
        last_modified = updated.replace(microsecond=0)
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


class Shelf:
    """The current bytes: each route's default page by path, replaced per published state; other
    variants (pages, limits, base URLs) in an LRU emptied whenever a new state is published."""

    def __init__(self, extra_capacity: int = 256) -> None:
        self._defaults: dict[str, Rendered] = {}
        self._extra: OrderedDict[Hashable, Rendered] = OrderedDict()
        self._capacity = extra_capacity
        self.generation = -1  # the index generation the bytes on the shelf come from

    def default(self, path: str) -> Rendered | None:
        return self._defaults.get(path)

    def publish(self, generation: int, defaults: Mapping[str, Rendered]) -> None:
        """A new published state: these defaults (the others stand), variants of the old one dropped."""
        self._defaults = {**self._defaults, **defaults}
        self.generation = generation
        self._extra.clear()

    def extra(self, key: Hashable) -> Rendered | None:
        found = self._extra.get(key)
        if found is not None:
            self._extra.move_to_end(key)
        return found

    def put_extra(self, key: Hashable, rendered: Rendered, generation: int) -> None:
        if generation != self.generation:
            return  # rendered from another state than the one published
        self._extra[key] = rendered
        while len(self._extra) > self._capacity:
            self._extra.popitem(last=False)
