"""The hub's durable state: one SQLite file in the state folder (mode 0600: it holds secrets).

Blocking; every method runs on the hub's own worker thread, one at a time, so no locking is needed.
Each change is one transaction with synchronous=FULL, so what a method returned survives SIGKILL.

Tables: intents (requests awaiting verification, in arrival order), subscriptions (verified),
deliveries (at most one pending per subscription: the newest undelivered content and its retry
state) and bodies (each distinct body once, shared by every subscriber it goes to).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from feedsvc.push.websub.limits import Limits
from feedsvc.push.websub.model import Accepted, DeliveryJob, Due, FeedChange, Intent, Mode, Subscription

FILENAME = "websub.sqlite3"
VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS intents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    mode TEXT NOT NULL, topic TEXT NOT NULL, callback TEXT NOT NULL, host TEXT NOT NULL,
    lease INTEGER NOT NULL, secret TEXT, verify_token TEXT, received REAL NOT NULL);
CREATE INDEX IF NOT EXISTS intents_key ON intents (topic, callback);
CREATE TABLE IF NOT EXISTS subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL, callback TEXT NOT NULL, host TEXT NOT NULL,
    secret TEXT, expires REAL NOT NULL,
    UNIQUE (topic, callback));
CREATE INDEX IF NOT EXISTS subscriptions_host ON subscriptions (host);
CREATE TABLE IF NOT EXISTS bodies (
    key TEXT PRIMARY KEY, content_type TEXT NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    subscription INTEGER PRIMARY KEY REFERENCES subscriptions (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, body TEXT NOT NULL, attempts INTEGER NOT NULL,
    due REAL NOT NULL, published REAL NOT NULL);
"""


class StoreError(Exception):
    """The state file cannot be used (a newer schema, not a database)."""


def _intent(row: sqlite3.Row) -> Intent:
    return Intent(id=row["id"], mode=Mode(row["mode"]), topic=row["topic"], callback=row["callback"],
                  host=row["host"], lease=row["lease"], secret=row["secret"], verify_token=row["verify_token"],
                  received=row["received"])


class Store:
    """Subscriptions, pending verifications and pending deliveries."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILENAME
        self._db: sqlite3.Connection | None = None
        self._seq = 0

    # -- lifecycle -------------------------------------------------------------------------

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        os.chmod(self.path, 0o600)  # SQLite gives its -wal and -shm files the same mode
        db = sqlite3.connect(self.path, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=5000")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > VERSION:
                raise StoreError(f"{self.path} has schema {version}, newer than this release's {VERSION}")
            db.executescript(SCHEMA)
            db.execute(f"PRAGMA user_version={VERSION}")
        except sqlite3.DatabaseError as exc:
            db.close()
            raise StoreError(f"{self.path}: {exc}") from None
        except BaseException:
            db.close()
            raise
        self._db = db
        self._seq = db.execute("SELECT coalesce(max(seq), 0) FROM deliveries").fetchone()[0]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        assert self._db is not None, "store not open"
        return self._db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # -- subscription requests -------------------------------------------------------------

    def add_intent(self, mode: Mode, topic: str, callback: str, host: str, lease: int, secret: str | None,
                   verify_token: str | None, now: float, limits: Limits) -> tuple[Accepted, Intent | None]:
        """Store a request for verification, unless a cap refuses it or there is nothing to do."""
        with self._tx() as db:
            subscribed = db.execute("SELECT 1 FROM subscriptions WHERE topic = ? AND callback = ?",
                                    (topic, callback)).fetchone() is not None
            if mode is Mode.UNSUBSCRIBE:
                waiting = db.execute("SELECT 1 FROM intents WHERE topic = ? AND callback = ?",
                                     (topic, callback)).fetchone() is not None
                if not subscribed and not waiting:
                    return Accepted.NOTHING, None
            elif not subscribed:
                on_host = db.execute("SELECT count(*) FROM subscriptions WHERE host = ?", (host,)).fetchone()[0]
                if on_host >= limits.subscriptions_per_host:
                    return Accepted.HOST_FULL, None
                if db.execute("SELECT count(*) FROM subscriptions").fetchone()[0] >= limits.subscriptions_max:
                    return Accepted.FULL, None
            cursor = db.execute(
                "INSERT INTO intents (mode, topic, callback, host, lease, secret, verify_token, received) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (mode.value, topic, callback, host, lease, secret, verify_token, now))
            assert cursor.lastrowid is not None
            return Accepted.STORED, Intent(cursor.lastrowid, mode, topic, callback, host, lease, secret,
                                           verify_token, now)

    def intents(self, now: float, max_age: float) -> list[Intent]:
        """The requests still awaiting verification, oldest first (those too old are dropped)."""
        with self._tx() as db:
            db.execute("DELETE FROM intents WHERE received < ?", (now - max_age,))
            return [_intent(row) for row in db.execute("SELECT * FROM intents ORDER BY id")]

    def finish(self, intent: Intent, verified: bool, now: float) -> int | None:
        """Drop a request once verification ended; if verified, apply it: a subscription created or
        replaced (same id), or removed with its pending delivery. Returns the subscription's id."""
        with self._tx() as db:
            db.execute("DELETE FROM intents WHERE id = ?", (intent.id,))
            if not verified:
                return None
            if intent.mode is Mode.SUBSCRIBE:
                db.execute(
                    "INSERT INTO subscriptions (topic, callback, host, secret, expires) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (topic, callback) DO UPDATE SET host = excluded.host, secret = excluded.secret, "
                    "expires = excluded.expires",
                    (intent.topic, intent.callback, intent.host, intent.secret, now + intent.lease))
            row = db.execute("SELECT id FROM subscriptions WHERE topic = ? AND callback = ?",
                             (intent.topic, intent.callback)).fetchone()
            if row is None:
                return None
            if intent.mode is Mode.UNSUBSCRIBE:
                db.execute("DELETE FROM deliveries WHERE subscription = ?", (row["id"],))
                db.execute("DELETE FROM subscriptions WHERE id = ?", (row["id"],))
            return int(row["id"])

    # -- deliveries ------------------------------------------------------------------------

    def _put_body(self, db: sqlite3.Connection, content_type: str, body: bytes) -> str:
        key = hashlib.sha256(content_type.encode() + b"\0" + body).hexdigest()
        db.execute("INSERT OR IGNORE INTO bodies (key, content_type, body) VALUES (?, ?, ?)",
                   (key, content_type, body))
        return key

    def enqueue(self, changes: Sequence[FeedChange], now: float) -> list[Due]:
        """A pending delivery for every live subscription of each changed topic. One already pending
        is replaced, with the full body: the fresh one of this change lacks the entries of the one
        it replaces."""
        woken: list[Due] = []
        with self._tx() as db:
            for change in changes:
                rows = db.execute(
                    "SELECT s.id, s.host, d.subscription IS NOT NULL AS pending FROM subscriptions s "
                    "LEFT JOIN deliveries d ON d.subscription = s.id WHERE s.topic = ? AND s.expires > ?",
                    (change.topic_url, now)).fetchall()
                if not rows:
                    continue
                full = self._put_body(db, change.content_type, change.full_body)
                fresh = full
                if change.fresh_body is not None and not all(row["pending"] for row in rows):
                    fresh = self._put_body(db, change.content_type, change.fresh_body)
                for row in rows:
                    self._seq += 1
                    db.execute(
                        "INSERT INTO deliveries (subscription, seq, body, attempts, due, published) "
                        "VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT (subscription) DO UPDATE SET seq = excluded.seq, "
                        "body = excluded.body, attempts = 0, due = excluded.due, published = excluded.published",
                        (row["id"], self._seq, full if row["pending"] else fresh, now, now))
                    woken.append(Due(row["id"], row["host"], now))
        return woken

    def jobs(self, asked: Sequence[tuple[int, float]]) -> list[tuple[DeliveryJob, float] | None]:
        """`job` for each (subscription, now)."""
        return [self.job(subscription, now) for subscription, now in asked]

    def job(self, subscription: int, now: float) -> tuple[DeliveryJob, float] | None:
        """The pending delivery of a subscription and when it is due; None if there is none, or the
        subscription has expired (then it is removed)."""
        row = self.db.execute(
            "SELECT s.*, d.seq, d.body, d.attempts, d.due, d.published, b.content_type FROM deliveries d "
            "JOIN subscriptions s ON s.id = d.subscription JOIN bodies b ON b.key = d.body "
            "WHERE d.subscription = ?", (subscription,)).fetchone()
        if row is None:
            return None
        if row["expires"] <= now:
            self.remove(subscription)
            return None
        sub = Subscription(row["id"], row["topic"], row["callback"], row["host"], row["secret"], row["expires"])
        job = DeliveryJob(sub, row["seq"], row["body"], row["content_type"], row["attempts"], row["published"])
        return job, row["due"]

    def body(self, key: str) -> bytes | None:
        row = self.db.execute("SELECT body FROM bodies WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row["body"])

    def _next(self, db: sqlite3.Connection, subscription: int) -> float | None:
        row = db.execute("SELECT due FROM deliveries WHERE subscription = ?", (subscription,)).fetchone()
        return None if row is None else float(row["due"])

    def done(self, finished: Sequence[tuple[int, int]]) -> list[float | None]:
        """Each (subscription, seq) was delivered (or given up): drop it unless newer content replaced
        it. Returns, for each, when the delivery still pending (newer content) is due, if any.
        One transaction for all: a fan-out of N deliveries costs one fsync per batch, not N."""
        with self._tx() as db:
            db.executemany("DELETE FROM deliveries WHERE subscription = ? AND seq = ?", finished)
            return [self._next(db, subscription) for subscription, _ in finished]

    def retry(self, subscription: int, seq: int, attempts: int, due: float) -> float | None:
        """Content `seq` failed `attempts` times: next try at `due`, unless newer content replaced it."""
        with self._tx() as db:
            db.execute("UPDATE deliveries SET attempts = ?, due = ? WHERE subscription = ? AND seq = ?",
                       (attempts, due, subscription, seq))
            return self._next(db, subscription)

    def remove(self, subscription: int) -> None:
        """End a subscription (a 410, an expired lease), with its pending delivery."""
        with self._tx() as db:
            db.execute("DELETE FROM deliveries WHERE subscription = ?", (subscription,))
            db.execute("DELETE FROM subscriptions WHERE id = ?", (subscription,))

    def pending(self) -> list[Due]:
        """Every pending delivery, for a start."""
        rows = self.db.execute("SELECT d.subscription, s.host, d.due FROM deliveries d "
                               "JOIN subscriptions s ON s.id = d.subscription ORDER BY d.due")
        return [Due(row["subscription"], row["host"], row["due"]) for row in rows]

    # -- housekeeping ----------------------------------------------------------------------

    def sweep(self, now: float) -> list[int]:
        """Remove expired subscriptions and bodies nothing refers to; the ids removed."""
        with self._tx() as db:
            gone = [row["id"] for row in db.execute("SELECT id FROM subscriptions WHERE expires <= ?", (now,))]
            db.executemany("DELETE FROM deliveries WHERE subscription = ?", [(i,) for i in gone])
            db.executemany("DELETE FROM subscriptions WHERE id = ?", [(i,) for i in gone])
            db.execute("DELETE FROM bodies WHERE key NOT IN (SELECT body FROM deliveries)")
            return gone

    def counts(self, now: float) -> tuple[int, int]:
        """Live subscriptions, and pending deliveries that have failed at least once."""
        db = self.db
        live = db.execute("SELECT count(*) FROM subscriptions WHERE expires > ?", (now,)).fetchone()[0]
        retrying = db.execute("SELECT count(*) FROM deliveries WHERE attempts > 0").fetchone()[0]
        return int(live), int(retrying)

    def subscriptions(self, now: float) -> list[Subscription]:
        """The live subscriptions (for tests and operators; secrets included, so never log them)."""
        rows = self.db.execute("SELECT * FROM subscriptions WHERE expires > ? ORDER BY id", (now,))
        return [Subscription(r["id"], r["topic"], r["callback"], r["host"], r["secret"], r["expires"]) for r in rows]
