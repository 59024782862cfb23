"""Metrics: Prometheus counters and histograms, in a registry per service instance."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


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
        self.requests = Counter("feedsvc_http_requests", "HTTP requests answered", ["route", "status"], registry=r)
        self.request_seconds = Histogram("feedsvc_http_request_seconds", "Time to answer a request", ["route"],
                                         buckets=_FAST, registry=r)
        self.watcher_up = Gauge("feedsvc_watcher_alive", "1 while the folder watcher runs", registry=r)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
