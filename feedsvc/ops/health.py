"""Health: what /healthz reports, with every problem typed by what it concerns."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from feedsvc.documents.model import Reason


class Concern(enum.Enum):
    """What a problem is about; problems with the folder or the watcher mean feeds may be stale."""

    SEEDS = "seeds"
    WATCHER = "watcher"
    SYNC = "sync"  # a batch failed: the index and the folder may disagree until a rescan succeeds
    COVERAGE = "coverage"  # some folders not watched live, or events lost: rescans cover them, late
    INDEX = "index"
    RENDER = "render"
    HTTP = "http"  # the connection guard is off: slow clients can hold connections for longer

    @property
    def general(self) -> str:
        """What anonymous callers of /healthz are told: no file name, path or rejection text."""
        return _GENERAL[self]

    @property
    def serving(self) -> bool:
        """Whether the feeds can no longer follow the folder while this lasts."""
        return self in (Concern.SEEDS, Concern.WATCHER, Concern.SYNC)


_GENERAL = {
    Concern.SEEDS: "the seeds folder cannot be read: serving the last good feeds",
    Concern.WATCHER: "live watching lost: rescanning",
    Concern.SYNC: "the feeds may miss changes until a rescan succeeds",
    Concern.COVERAGE: "some changes are found late, by rescans",
    Concern.INDEX: "the index is degraded",
    Concern.RENDER: "some feeds could not be rendered",
    Concern.HTTP: "slow-client protection off: an aiohttp internal changed",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """`text` is for editors and logs (it may name files and paths); `public`, in general words, is
    what anyone may read on /healthz (the concern's general words when not given)."""

    concern: Concern
    text: str
    public: str | None = None

    @property
    def summary(self) -> str:
        return self.public or self.concern.general


@dataclass(frozen=True, slots=True)
class Health:
    """A snapshot for /healthz."""

    ready: bool
    watcher_alive: bool
    documents: int
    rejected: tuple[tuple[str, Reason], ...]
    last_change: dt.datetime | None
    problems: tuple[Problem, ...]
    index: str

    @property
    def serving_ok(self) -> bool:
        return self.ready and self.watcher_alive and not any(p.concern.serving for p in self.problems)

    @property
    def status(self) -> str:
        if not self.ready:
            return "starting"
        if not self.serving_ok:
            return "failing"
        return "degraded" if self.problems else "ok"
