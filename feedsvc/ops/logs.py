"""Logging: one line per event, as text or JSON lines."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class QuietBadRequests(logging.Filter):
    """Drop aiohttp's traceback for each malformed request: the client got its 400, and anyone
    could otherwise fill the log by sending garbage. Errors in our handlers still get through."""

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, HttpProcessingError)


def configure(level: str = "info", fmt: str = "text") -> None:
    """Send feedsvc's log to stderr; aiohttp's access log stays at debug so requests cost nothing."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # watchdog logs every raw inotify event at debug; keep it quiet unless asked for explicitly.
    logging.getLogger("watchdog").setLevel(max(logging.INFO, root.level))
    logging.getLogger("aiohttp.server").addFilter(QuietBadRequests())
