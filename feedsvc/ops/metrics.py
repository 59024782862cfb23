"""Metrics: Prometheus counters and histograms, in a registry per service instance."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class RequestStats(Collector):
    """Request counts and latencies, kept in plain ints on the event loop and exposed at scrape time.

    prometheus_client's own Counter and Histogram take a lock and walk the buckets in Python on
    every observation; on the request path that cost several percent of throughput. Everything here
    runs on the loop thread, so no lock is needed, and the exposition is the same.
    """

    def __init__(self, buckets: tuple[float, ...] = _FAST) -> None:
        self._bounds = buckets
        self._counts: dict[str, dict[int, int]] = {}  # route -> status -> requests
        self._latency: dict[str, tuple[list[int], list[float]]] = {}  # route -> (bucket counts, [sum])

    def recorder(self, route: str) -> Callable[[int, float], None]:
        """observe(status, seconds) for one route, bound to its own counts: no lookup per request."""
        counts = self._counts.setdefault(route, {})
        buckets, total = self._latency.setdefault(route, ([0] * (len(self._bounds) + 1), [0.0]))
        bounds = self._bounds

        def observe(status: int, seconds: float) -> None:
            counts[status] = counts.get(status, 0) + 1
            buckets[bisect_left(bounds, seconds)] += 1
            total[0] += seconds
        return observe

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily("feedsvc_http_requests", "HTTP requests answered", labels=["route", "status"])
        for route, statuses in sorted(self._counts.items()):
            for status, count in sorted(statuses.items()):
                requests.add_metric([route, str(status)], count)
        yield requests
        latency = HistogramMetricFamily("feedsvc_http_request_seconds", "Time to answer a request", labels=["route"])
        for route, (counts, total) in sorted(self._latency.items()):
            if not any(counts):
                continue  # a route nobody asked for yet, as prometheus_client's own histograms do
            cumulative, running = [], 0
            for bound, count in zip((*map(str, self._bounds), "+Inf"), counts):
                running += count
                cumulative.append((bound, running))
            latency.add_metric([route], cumulative, total[0])
        yield latency


class Metrics:
    """Everything /metrics exposes; a registry of its own so several apps can share a process."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.documents = Gauge("feedsvc_documents", "Published documents", registry=r)
        self.rejected = Gauge("feedsvc_rejected_documents", "Files rejected by the parser", registry=r)
        self.renders = Counter("feedsvc_renders", "Feeds rendered", ["feed"], registry=r)
        self.render_seconds = Histogram("feedsvc_render_seconds", "Time to render one feed", buckets=_FAST,
                                        registry=r)
        self.ingest_seconds = Histogram("feedsvc_ingest_seconds", "Time to read and index one batch of files",
                                        buckets=_FAST, registry=r)
        self.watch_events = Counter("feedsvc_watch_events", "Filesystem events received", ["type"], registry=r)
        self.watcher_up = Gauge("feedsvc_watcher_alive", "1 while the folder watcher runs", registry=r)
        self.connection_guard = Gauge(
            "feedsvc_connection_guard", "1 while slow-client protection (header timeout, connection cap) is on; "
            "0 when off (an aiohttp internal it needs changed) or not in use", registry=r)
        self.watch_missed = Counter("feedsvc_watch_missed_events", "Changes a scan found that the watcher never "
                                    "reported", registry=r)
        self.watch_mode = Gauge("feedsvc_watch_mode", "1 for how the folder is followed now", ["mode"], registry=r)
        self.requests = RequestStats()
        r.register(self.requests)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
