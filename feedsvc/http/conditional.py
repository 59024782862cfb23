"""Conditional GET (RFC 9110 §13): whether a GET or HEAD may be answered 304 Not Modified.

Read from aiohttp's parsed headers (`request.if_none_match`, `request.if_modified_since`), for
pre-rendered bytes and pages computed per request alike:

* If-None-Match, when present, decides alone (§13.2.2); If-Modified-Since is then ignored.
* `*` matches any current representation (§13.1.2): a resource that exists is fresh. Handlers
  answer a missing one (404) before they get here.
* The weak comparison (§8.8.3.2): `W/"x"` matches `"x"`. Tags are compared whole: `"abc"` never
  matches `"xabcx"`, and what does not parse as a list of entity-tags matches nothing.
* If-Modified-Since: fresh at or after Last-Modified, unless the date is later than our clock
  (§13.1.3: such a date is invalid).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container

from aiohttp import hdrs, web

_ANY = "*"


def fresh(request: web.Request, tags: Container[str], last_modified: dt.datetime | None = None) -> bool:
    """Whether the representation with these entity-tags (their values, unquoted: every tag by
    which a client may know it, e.g. both codings') and Last-Modified is what the client holds."""
    candidates = request.if_none_match
    if candidates is not None:
        # aiohttp parses both `*` and the tag `"*"` as the value "*": only the bare one is the wildcard.
        if request.headers.get(hdrs.IF_NONE_MATCH) == _ANY:
            return True
        return any(candidate.value in tags for candidate in candidates)
    if last_modified is None or hdrs.IF_MODIFIED_SINCE not in request.headers:
        return False
    since = request.if_modified_since
    return since is not None and last_modified <= since <= dt.datetime.now(dt.UTC)
