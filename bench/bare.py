"""The reference: a bare aiohttp handler returning feedsvc's bytes and headers from memory.

Usage: python bench/bare.py --port P --data DIR, where DIR holds body, body.gz and headers.json
(captured from a running feedsvc by bench/serving.py). It runs on uvloop like feedsvc's default and
answers GET /feed.atom with the same 200 (plain or gzip) and 304 (If-None-Match) decisions, doing
nothing else: no routing beyond one path, no metrics, no access log. This is the framework's ceiling.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import uvloop
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy


def build(data: Path) -> web.Application:
    body = (data / "body").read_bytes()
    gzipped = (data / "body.gz").read_bytes()
    meta = json.loads((data / "headers.json").read_text())
    plain = CIMultiDictProxy(CIMultiDict(meta["plain"]))
    packed = CIMultiDictProxy(CIMultiDict(meta["gzip"]))
    tags = {meta["plain"]["ETag"], meta["gzip"]["ETag"]}

    async def feed(request: web.Request) -> web.Response:
        gz = "gzip" in request.headers.get("Accept-Encoding", "")
        headers = packed if gz else plain
        inm = request.headers.get("If-None-Match")
        if inm is not None and inm in tags:
            return web.Response(status=304, headers=headers)
        return web.Response(body=gzipped if gz else body, headers=headers)

    app = web.Application()
    app.router.add_get("/feed.atom", feed)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args()
    loop = uvloop.new_event_loop()
    web.run_app(build(args.data), host="127.0.0.1", port=args.port, loop=loop, access_log=None, print=None)


if __name__ == "__main__":
    main()
