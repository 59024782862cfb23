"""Every error a feed or page answers is the one JSON body (feedsvc.http.errors.json_error):
`{"error": ..., "status": ...}`, never cached, whether the handler returns it or a helper deep in
it raises it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from helpers import SEED
from helpers.feeds import fetch

from feedsvc.settings import MAX_LIMIT

ERRORS = {
    f"/feed.atom?limit={MAX_LIMIT + 1}": 400,
    "/feed.atom?limit=0": 400,
    "/en/feed.json?page=x": 400,
    "/feed.atom?page=99": 404,
    "/?page=99": 404,
    "/publications/Not_A_Slug/feed.atom": 404,
    "/publications/no-such-paper/feed.atom": 404,
    "/feed.atom?q=%22": 400,
    f"/status.json?limit={MAX_LIMIT + 1}": 400,
    "/status.json?state=nonsense": 400,
    "/status?q=" + "x" * 201: 400,
    "/preview/no-such-id": 404,
}


async def test_errors_share_one_body(seeds: Path, state: Path, start_app: Any) -> None:
    shutil.copy(SEED, seeds)
    client = await start_app(seeds, state, host="127.0.0.1")
    for path, expected in ERRORS.items():
        status, headers, body = await fetch(client, path)
        assert status == expected, (path, status, body[:200])
        assert headers["Content-Type"] == "application/json; charset=utf-8", path
        assert headers["Cache-Control"] == "no-store", path
        answer = json.loads(body)
        assert set(answer) == {"error", "status"} and answer["status"] == expected and answer["error"], path
    # The largest ?limit= there is still answers.
    assert (await fetch(client, f"/feed.atom?limit={MAX_LIMIT}"))[0] == 200
    assert (await fetch(client, f"/status.json?limit={MAX_LIMIT}"))[0] == 200
