"""The hub's vocabulary: what a feed change, a subscription request, a subscription and a delivery are.

Named apart from the ingest stage's types (its batches, reads and row changes): the service imports
both kinds."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Mode(enum.Enum):
    """hub.mode of a subscription request."""

    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"


class Verified(enum.Enum):
    """How an intent verification (a GET to the callback) ended."""

    OK = "verified"
    REJECTED = "rejected"  # a status other than 2xx (3xx excluded)
    WRONG_CHALLENGE = "wrong_challenge"  # 2xx with a body other than the challenge
    REDIRECTED = "redirected"  # 3xx: never followed
    UNREACHABLE = "unreachable"  # connection failed or timed out
    REFUSED = "refused"  # the SSRF guard refused the callback's address


class DeliveryOutcome(enum.Enum):
    """How one delivery attempt (a POST to the callback) ended."""

    DELIVERED = "delivered"  # 2xx
    GONE = "gone"  # 410: the subscription ends
    FAILED = "failed"  # another status
    REDIRECTED = "redirected"  # 3xx: never followed, a failure
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    REFUSED = "refused"  # the SSRF guard refused the callback's address


class Accepted(enum.Enum):
    """What the store made of a subscription request."""

    STORED = "stored"  # awaiting verification
    NOTHING = "nothing"  # unsubscribe of an unknown subscription: done without verification
    HOST_FULL = "host_full"  # too many subscriptions for this callback host
    FULL = "full"  # too many subscriptions in all


@dataclass(frozen=True, slots=True)
class FeedChange:
    """One feed's (one topic's) new representation, handed to Hub.publish and the edges after it is
    published.

    `fresh_body` is a valid document of the same type holding only the new and changed entries;
    None sends `full_body`.
    """

    topic_url: str
    content_type: str
    full_body: bytes
    fresh_body: bytes | None = None


@dataclass(frozen=True, slots=True)
class Intent:
    """A subscription request, stored and awaiting verification."""

    id: int
    mode: Mode
    topic: str
    callback: str
    host: str
    lease: int
    secret: str | None = field(repr=False)
    verify_token: str | None = field(repr=False)
    received: float

    @property
    def key(self) -> tuple[str, str]:
        return self.topic, self.callback


@dataclass(frozen=True, slots=True)
class Subscription:
    """A verified subscription."""

    id: int
    topic: str
    callback: str
    host: str
    secret: str | None = field(repr=False)
    expires: float


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    """The pending delivery of one subscription: the newest content not yet delivered to it."""

    subscription: Subscription
    seq: int  # changes whenever newer content replaces the pending one
    body_key: str
    content_type: str
    attempts: int
    published: float  # when the content was handed to the hub (clock time)


@dataclass(frozen=True, slots=True)
class Due:
    """A subscription with a pending delivery, and when it is next tried (clock time)."""

    subscription: int
    host: str
    at: float

