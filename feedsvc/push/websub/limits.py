"""The hub's bounds: leases, timeouts, retries, concurrency and abuse caps; a per-client rate limit."""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

HOUR = 3600
DAY = 24 * HOUR


@dataclass(frozen=True, slots=True)
class Limits:
    """Every number the hub works within; the defaults are the production ones (tests shrink them)."""

    lease_min: int = HOUR
    lease_max: int = 10 * DAY
    lease_default: int = 10 * DAY
    secret_max_bytes: int = 199  # the spec: under 200 bytes
    url_max_chars: int = 2048
    form_max_bytes: int = 8192
    verify_timeout: float = 5.0
    delivery_timeout: float = 5.0
    read_max_bytes: int = 4096  # of any response: the challenge fits, nothing more is read
    backoff_base: float = 30.0  # first retry after 15-30 s, then doubling
    backoff_cap: float = HOUR
    retry_for: float = 6 * HOUR  # a notification not delivered by then is dropped (the subscription stays)
    concurrency: int = 128  # deliveries in flight
    per_host: int = 32  # deliveries in flight to one callback host: a slow host holds at most a quarter
    verifiers: int = 8  # verifications in flight
    intents_max: int = 1000  # pending verifications in all
    intents_per_host: int = 20  # pending verifications for one callback host
    subscriptions_max: int = 100_000
    subscriptions_per_host: int = 200
    intent_max_age: float = DAY  # a stored request older than this is not verified after a restart
    rate_burst: float = 30.0  # requests to /websub one client address may send at once
    rate_per_second: float = 0.5  # and then, sustained
    rate_clients: int = 10_000  # client addresses remembered for the rate limit
    sweep_every: float = 60.0  # seconds between removals of expired subscriptions
    ping_attempts: int = 5
    ping_backoff_base: float = 2.0
    ping_timeout: float = 10.0
    ping_concurrency: int = 8

    def lease(self, requested: int | None) -> int:
        """The lease granted for a requested one: the default when none, else clamped."""
        if requested is None:
            return self.lease_default
        return max(self.lease_min, min(self.lease_max, requested))

    def backoff(self, attempts: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds before retry number `attempts` (1 = the first retry): exponential, capped, with
        jitter over the upper half so a burst of failures does not retry in lockstep."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0 ** max(0, attempts - 1))
        return ceiling * (0.5 + 0.5 * rng())

    def ping_backoff(self, attempts: int, rng: Callable[[], float] = random.random) -> float:
        return self.ping_backoff_base * 2.0 ** max(0, attempts - 1) * (0.5 + 0.5 * rng())


class RateLimiter:
    """A token bucket per key (client address), in a bounded LRU: the oldest keys are forgotten."""

    def __init__(self, burst: float, per_second: float, capacity: int, clock: Callable[[], float]) -> None:
        self._burst = burst
        self._rate = per_second
        self._capacity = capacity
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def take(self, key: str) -> float:
        """0.0 if `key` may go on now (a token is spent), else the seconds until it may."""
        now = self._clock()
        tokens, at = self._buckets.pop(key, (self._burst, now))
        tokens = min(self._burst, tokens + max(0.0, now - at) * self._rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self._rate if self._rate > 0 else 3600.0
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._capacity:
            self._buckets.popitem(last=False)
        return wait
