"""Load generator of the flood section, run in its own process (core 1): `concurrency` aiohttp clients on
loopback request distinct large variants of /feed.atom in random order for `duration` seconds and
print one JSON line with the answers they got.

    python bench/floodload.py PORT DURATION CONCURRENCY PATH [PATH ...]
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time


async def main(port: int, duration: float, concurrency: int, paths: list[str]) -> dict[str, object]:
    import aiohttp

    statuses: dict[str, int] = {}
    retry_after = 0
    errors = 0
    latencies: list[float] = []
    received = 0
    end = time.perf_counter() + duration
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)

    async def client(seed: int) -> None:
        nonlocal retry_after, errors, received
        rng = random.Random(seed)
        order = paths[:]
        rng.shuffle(order)
        i = 0
        while time.perf_counter() < end:
            path = order[i % len(order)]
            i += 1
            t0 = time.perf_counter()
            try:
                async with session.get(f"http://127.0.0.1:{port}{path}") as resp:
                    body = await resp.read()
                    statuses[str(resp.status)] = statuses.get(str(resp.status), 0) + 1
                    if resp.status == 503:
                        if resp.headers.get("Retry-After"):
                            retry_after += 1
                        await asyncio.sleep(0.05)  # a polite client backs off a little
                    elif resp.status == 200:
                        received += len(body)
                        latencies.append(time.perf_counter() - t0)
            except (TimeoutError, aiohttp.ClientError, OSError):
                errors += 1
                await asyncio.sleep(0.05)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(client(i) for i in range(concurrency)))
    latencies.sort()

    def pct(p: float) -> float | None:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] if latencies else None

    return {"statuses": statuses, "retry_after_on_503": retry_after, "errors": errors,
            "ok_p50_s": pct(50), "ok_p99_s": pct(99), "bytes_200": received}


if __name__ == "__main__":
    port, duration, concurrency = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(asyncio.run(main(port, duration, concurrency, sys.argv[4:]))), flush=True)
