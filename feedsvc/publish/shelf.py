"""Published bytes: every rendered page with its gzip form and validators, swapped in per change."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from email.utils import format_datetime

from multidict import CIMultiDict, CIMultiDictProxy


@dataclass(frozen=True, slots=True)
class Rendered:
    """One representation ready to send: bodies, validators and the headers that go with them.

    The headers are built once here, from the policy the caller passes (feedsvc.publish.headers), so the
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
        return cls.assemble(pack(body), media_type, updated, extra)

    @classmethod
    def assemble(cls, made: Packed, media_type: str, updated: dt.datetime, extra: Mapping[str, str]) -> Rendered:
        """From bytes packed elsewhere (a render process: the headers do not pickle)."""
        body, gzipped, tag = made
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


# A body, its gzip form and its ETag: the costly part of a Rendered, done where the body is made.
Packed = tuple[bytes, bytes, str]


def tag_of(body: bytes) -> str:
    """A strong ETag from the bytes: replicas rendering the same folder send the same validator."""
    return hashlib.sha256(body).hexdigest()[:32]


def pack(body: bytes) -> Packed:
    tag = tag_of(body)
    # mtime=0 keeps the gzip bytes, and so their ETag, identical across processes.
    return body, gzip.compress(body, compresslevel=6, mtime=0), tag


# What the variants on the shelf may hold, plain and gzip together: a ?limit=500 page of real
# digests is ~4.6 MB, so a count alone let a flood of distinct variants take a gigabyte.
EXTRA_BYTES = 48 << 20


class Shelf:
    """The current bytes: each route's default page by path, replaced per published state; other
    variants (pages, limits, base URLs) in an LRU bounded by count and bytes, emptied whenever a
    new state is published."""

    def __init__(self, extra_capacity: int = 256, extra_bytes: int = EXTRA_BYTES) -> None:
        self._defaults: dict[str, Rendered] = {}
        self._extra: OrderedDict[Hashable, Rendered] = OrderedDict()
        self._capacity = extra_capacity
        self._max_bytes = extra_bytes
        self._bytes = 0
        self.generation = -1  # the index generation the bytes on the shelf come from

    def default(self, path: str) -> Rendered | None:
        return self._defaults.get(path)

    def publish(self, generation: int, defaults: Mapping[str, Rendered],
                keep: Callable[[Hashable], bool] = lambda key: False) -> None:
        """A new published state: these defaults (the others stand); of the old variants only those
        `keep` says the change did not touch."""
        self._defaults = {**self._defaults, **defaults}
        self.generation = generation
        for key in [k for k in self._extra if not keep(k)]:
            self._bytes -= _size(self._extra.pop(key))

    def extra(self, key: Hashable) -> Rendered | None:
        found = self._extra.get(key)
        if found is not None:
            self._extra.move_to_end(key)
        return found

    def put_extra(self, key: Hashable, rendered: Rendered, generation: int) -> None:
        if generation != self.generation:
            return  # rendered from another state than the one published
        size = _size(rendered)
        if size > self._max_bytes // 4:
            return  # one huge page would push out everything else; rendering it again is cheaper
        old = self._extra.pop(key, None)
        if old is not None:
            self._bytes -= _size(old)
        self._extra[key] = rendered
        self._bytes += size
        while len(self._extra) > self._capacity or self._bytes > self._max_bytes:
            _, dropped = self._extra.popitem(last=False)
            self._bytes -= _size(dropped)

    @property
    def extra_bytes(self) -> int:
        return self._bytes


def _size(rendered: Rendered) -> int:
    return len(rendered.body) + len(rendered.gzipped)
