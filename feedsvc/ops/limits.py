"""File descriptors: the process's limit, how many are in use, and whether an error is that limit.

Kept free of aiohttp so that `feedsvc serve` can raise the limit before the parser processes'
server forks (they inherit it) and before aiohttp is imported; connections.py uses these.
"""

from __future__ import annotations

import errno
import logging
import os
import resource

log = logging.getLogger("feedsvc.limits")

# Descriptors kept for everything but connections: the index, files being read, the inotify
# instance, the parser processes' pipes, the listening socket.
RESERVE = 64

_OUT_OF_FDS = (errno.EMFILE, errno.ENFILE)


def raise_nofile() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard one (children inherit it); the soft limit before and after.

    Distributions default the soft limit to 1,024 for the sake of select(); nothing here uses
    select() (asyncio, uvloop and watchdog poll with epoll/poll), so the hard limit is safe.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard
    if hard == resource.RLIM_INFINITY:  # the kernel refuses more than fs.nr_open
        target = read_int("/proc/sys/fs/nr_open") or 1 << 20
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-files limit from %d to %d: %s", soft, target, exc)
    return soft, fd_limit()


def fd_limit() -> int:
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def open_fds() -> int | None:
    """Descriptors this process holds now (None where /proc is not there to count them)."""
    try:
        return len(os.listdir("/proc/self/fd")) - 1  # less the one listdir itself used
    except OSError:
        return None


def fd_usage() -> str:
    try:
        count = len(os.listdir("/proc/self/fd")) - 1
    except OSError as exc:
        # Counting needs a descriptor too: when even that fails, every one is in use.
        return f"all {fd_limit()} in use" if out_of_fds(exc) else f"limit {fd_limit()}"
    return f"{count} open, limit {fd_limit()}"


def near_fd_limit() -> bool:
    count = open_fds()
    # listdir itself needs a descriptor: at the limit it fails, which says as much.
    return count is None or count >= fd_limit() - 8


def out_of_fds(exc: BaseException | None) -> bool:
    """Whether an error (or the one it was raised from or during) is the descriptor limit."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, OSError) and exc.errno in _OUT_OF_FDS:
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def connection_cap(limit: int) -> int:
    """How many connections may be open with `limit` descriptors, leaving room for the rest."""
    return limit - RESERVE if limit > 2 * RESERVE else max(limit // 2, 1)


def read_int(path: str) -> int | None:
    """A number from a /proc or /sys file, or None where it cannot be read."""
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None
