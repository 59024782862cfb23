"""The hub's metrics, on the service's registry (once per registry, however many hubs use it)."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from prometheus_client import Counter, Gauge, Histogram

from feedsvc.ops.metrics import Metrics
from feedsvc.push.websub.model import DeliveryOutcome, Verified

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0)


class HubMetrics:
    """Subscriptions, verifications, deliveries by outcome, retries pending, delivery latency, pings."""

    def __init__(self, metrics: Metrics) -> None:
        r = metrics.registry
        self.subscriptions = Gauge("feedsvc_websub_subscriptions", "Live WebSub subscriptions", registry=r)
        self.verifying = Gauge("feedsvc_websub_pending_verifications",
                               "Subscription requests awaiting intent verification", registry=r)
        self.retrying = Gauge("feedsvc_websub_retries_pending",
                              "Pending deliveries that failed at least once and wait for a retry", registry=r)
        self.requests = Counter("feedsvc_websub_requests", "Subscription requests answered, by status",
                                ["status"], registry=r)
        self.verifications = Counter("feedsvc_websub_verifications", "Intent verifications, by mode and outcome",
                                     ["mode", "outcome"], registry=r)
        self.deliveries = Counter("feedsvc_websub_deliveries", "Delivery attempts, by outcome", ["outcome"],
                                  registry=r)
        self.abandoned = Counter("feedsvc_websub_abandoned",
                                 "Notifications given up after retrying for the bounded time", registry=r)
        self.latency = Histogram("feedsvc_websub_delivery_seconds",
                                 "From a change handed to the hub to the subscriber's 2xx", buckets=_LATENCY,
                                 registry=r)
        self.pings = Counter("feedsvc_websub_pings", "Publish pings to external hubs, by outcome", ["outcome"],
                             registry=r)
        for outcome in DeliveryOutcome:
            self.deliveries.labels(outcome.value)
        for verified in Verified:
            for mode in ("subscribe", "unsubscribe"):
                self.verifications.labels(mode, verified.value)
        for ping in ("ok", "failed", "gave_up"):
            self.pings.labels(ping)


_BY_METRICS: WeakKeyDictionary[Metrics, HubMetrics] = WeakKeyDictionary()


def hub_metrics(metrics: Metrics) -> HubMetrics:
    found = _BY_METRICS.get(metrics)
    if found is None:
        found = _BY_METRICS[metrics] = HubMetrics(metrics)
    return found
