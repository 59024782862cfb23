"""The subscribers of the websub section: one aiohttp server process on 127.0.0.1 (one port, a path per
subscriber) that answers the hub's verification GETs and records when each notification arrived.

    python bench/websubsub.py PORT

/cb/{n}: a live subscriber (GET echoes hub.challenge, POST 204 and its arrival time is kept per token
found in the body); /hang/{n}: verifies, then accepts each POST and never answers; /err/{n}: verifies,
then answers every POST 500. GET /_results returns {token: {n: perf_counter at arrival}}; the clock is
CLOCK_MONOTONIC, the same in every process of the machine.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time

from aiohttp import web

TOKEN = re.compile(rb"\((ws[0-9a-z]+)\)")
arrivals: dict[str, dict[str, float]] = {}
verified = {"n": 0}
posts = {"hang": 0, "err": 0}


async def verify(request: web.Request) -> web.Response:
    challenge = request.query.get("hub.challenge", "")
    verified["n"] += 1
    return web.Response(text=challenge)


async def live(request: web.Request) -> web.Response:
    body = await request.read()
    now = time.perf_counter()
    n = request.match_info["n"]
    for token in set(TOKEN.findall(body)):
        arrivals.setdefault(token.decode(), {})[n] = now
    return web.Response(status=204)


async def hang(request: web.Request) -> web.Response:
    posts["hang"] += 1
    await asyncio.sleep(3600)
    return web.Response(status=204)


async def err(request: web.Request) -> web.Response:
    posts["err"] += 1
    await request.read()
    return web.Response(status=500)


async def results(request: web.Request) -> web.Response:
    return web.json_response({"arrivals": arrivals, "verified": verified["n"], "posts": posts})


async def reset(request: web.Request) -> web.Response:
    arrivals.clear()
    verified["n"] = 0
    posts["hang"] = posts["err"] = 0
    return web.Response(text="ok")


def main() -> None:
    app = web.Application(client_max_size=16 * 2**20)
    for kind, handler in (("cb", live), ("hang", hang), ("err", err)):
        app.router.add_get(f"/{kind}/{{n}}", verify)
        app.router.add_post(f"/{kind}/{{n}}", handler)
    app.router.add_get("/_results", results)
    app.router.add_post("/_reset", reset)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None, backlog=2048)


if __name__ == "__main__":
    main()
