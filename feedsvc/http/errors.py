"""Error answers: one JSON body for every error the feeds and pages send.

`{"error": "<one line for a person>", "status": <the HTTP status>}`, never cached. (The WebSub hub
answers subscription requests in plain text, as its protocol expects.)
"""

from __future__ import annotations

import json

from aiohttp import web

from feedsvc.publish import headers as policy


def json_error(status: int, message: str, **headers: str) -> web.Response:
    """The error answer: `message` says what was wrong with the request, or why it cannot be
    answered now (then with Retry-After among `headers`)."""
    body = json.dumps({"error": message, "status": status}).encode()
    return web.Response(status=status, body=body, headers={**policy.momentary(policy.JSON), **headers})


class ErrorAnswer(Exception):
    """An error found in a helper deep inside a handler (a query parameter out of range, the
    index not open yet): the route answers it with `json_error`, so helpers need not return it up
    through every caller."""

    def __init__(self, status: int, message: str, **headers: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers

    def response(self) -> web.Response:
        return json_error(self.status, self.message, **self.headers)
