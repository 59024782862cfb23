"""Settings: built once at start from flags, then FEEDSVC_* variables, then defaults."""

from __future__ import annotations

import argparse
import ipaddress
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from .documents.files import DEFAULT_PATTERN
from .documents.parse import DEFAULT_MAX_BYTES

ENV_PREFIX = "FEEDSVC_"

# Page sizes: how many entries a feed page, or files a newsroom status page, lists.
DEFAULT_PAGE_SIZE = 50  # a feed page without ?limit= (the page_size setting's default)
# The most one page may list, whatever ?limit= or page_size asks: it bounds what one request
# costs (a ?limit=500 Atom page of real digests is ~4.6 MB, ~100 ms of rendering).
MAX_LIMIT = 500
NEWSROOM_PAGE_SIZE = 100  # files on /status and /status.json without ?limit=


class SettingsError(Exception):
    """A setting that stops the start; the message is the one line shown to the operator."""


@dataclass(frozen=True, slots=True)
class Setting:
    """How one setting is spelled, parsed and documented."""

    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str
    choices: tuple[str, ...] | None = None

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _optional(text: str) -> str | None:
    return text or None


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(text: str) -> tuple[Network, ...]:
    """Comma-separated addresses or CIDR blocks."""
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise ValueError(f"not a list of addresses or CIDR blocks: {exc}") from None


def _urls(text: str) -> tuple[str, ...]:
    """Comma-separated absolute http(s) URLs."""
    found = tuple(part.strip() for part in text.split(",") if part.strip())
    for url in found:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"{url!r} is not an absolute http(s) URL")
    return found


SPEC: tuple[Setting, ...] = (
    Setting("seeds", "./seeds", "folder of documents to publish (watched, subfolders too)"),
    Setting("host", "127.0.0.1", "address to listen on"),
    Setting("port", 8080, "port to listen on", int),
    Setting("base_url", None, "absolute public URL of the service; unset: the bound address, or what a "
            "trusted proxy's headers name", _optional),
    Setting("state_dir", "./var", "folder for the SQLite index"),
    Setting("watch", "inotify", "how to follow the folder: inotify events, or polling for network and bind mounts",
            str, ("inotify", "polling")),
    Setting("poll_interval", 1.0, "seconds between polls with --watch polling", float),
    Setting("rescan_interval", 60.0, "seconds between reconciliation scans (0 disables)", float),
    Setting("debounce", 0.01, "seconds a burst of events on one path is collapsed over", float),
    Setting("pattern", DEFAULT_PATTERN, "file-name pattern of documents"),
    Setting("max_bytes", DEFAULT_MAX_BYTES, "largest document accepted, in bytes", int),
    Setting("title", "feedsvc: foreign press digest", "feed title"),
    Setting("subtitle", "Foreign-press articles summarised in English and Ukrainian", "feed subtitle"),
    Setting("author", "feedsvc editorial team", "feed author name"),
    Setting("tag_authority", "feedsvc.localhost,2026",
            "authority and date of tag: URIs (RFC 4151), e.g. example.org,2026"),
    Setting("language", "uk", "primary language of the bilingual feed", str, ("uk", "en")),
    Setting("page_size", DEFAULT_PAGE_SIZE, "entries per feed page by default", int),
    Setting("max_age", 300, "Cache-Control max-age of feeds, in seconds", int),
    Setting("shared_max_age", 1, "Cache-Control s-maxage of feeds and pages: seconds a shared cache (nginx, "
            "a CDN) answers before it revalidates by ETag (never above max-age); readers keep max-age", int),
    Setting("log_level", "info", "log level", str, ("debug", "info", "warning", "error")),
    Setting("log_format", "text", "log line format", str, ("text", "json")),
    Setting("metrics", True, "serve /metrics and count requests", _bool),
    Setting("uvloop", True, "use uvloop's event loop where installed", _bool),
    Setting("editor_token", None, "token that opens the newsroom pages (/status, /status.json, /preview/); "
            "unset: they are served only while the service listens on loopback", _optional),
    Setting("trusted_proxies", (), "addresses or CIDRs of proxies whose X-Forwarded-* headers are trusted "
            "(none by default)", _networks),
    Setting("websub", True, "run the embedded WebSub hub at /websub and advertise it", _bool),
    Setting("websub_hubs", (), "external WebSub hub URLs to ping on every change, comma-separated", _urls),
    Setting("edge_refresh", (), "base URLs of caching proxies in front (the edge profile's nginx) that are "
            "asked to fetch a feed again the moment it changes, comma-separated", _urls),
    Setting("websub_allow_callbacks", (), "networks WebSub callbacks may also reach besides globally routable "
            "addresses (tests, private deployments), comma-separated CIDRs", _networks),
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of a running service, validated."""

    seeds: Path
    host: str
    port: int
    base_url: str | None
    state_dir: Path
    watch: Literal["inotify", "polling"]
    poll_interval: float
    rescan_interval: float
    debounce: float
    pattern: str
    max_bytes: int
    title: str
    subtitle: str
    author: str
    tag_authority: str
    language: Literal["uk", "en"]
    page_size: int
    max_age: int
    shared_max_age: int
    log_level: str
    log_format: str
    metrics: bool
    uvloop: bool
    editor_token: str | None
    trusted_proxies: tuple[Network, ...]
    websub: bool
    websub_hubs: tuple[str, ...]
    edge_refresh: tuple[str, ...]
    websub_allow_callbacks: tuple[Network, ...]

    @classmethod
    def build(cls, values: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
              *, check_dirs: bool = True) -> Settings:
        """Merge explicit values (flags) over FEEDSVC_* variables over defaults, and validate."""
        values = values or {}
        env = os.environ if env is None else env
        merged: dict[str, Any] = {}
        origins: dict[str, str] = {}  # where each value came from, for error messages
        for spec in SPEC:
            if values.get(spec.name) is not None:
                raw, origin = values[spec.name], spec.flag
            elif spec.env in env:
                raw, origin = env[spec.env], spec.env
            else:
                merged[spec.name] = spec.default
                continue
            if isinstance(raw, str):
                try:
                    raw = spec.parse(raw)
                except ValueError as exc:
                    raise SettingsError(f"{origin}: {exc}") from None
            if spec.choices and raw not in spec.choices:
                raise SettingsError(f"{origin}: {raw!r} is not one of {', '.join(spec.choices)}")
            merged[spec.name] = raw
            origins[spec.name] = origin
        # Resolved once, here: watchdog reports paths under the root it was given, so a relative
        # or symlinked root would never match the paths the service compares events with.
        merged["seeds"] = Path(merged["seeds"]).expanduser().resolve()
        merged["state_dir"] = Path(merged["state_dir"]).expanduser().resolve()
        settings = cls(**merged)
        if (problem := settings._out_of_range()) is not None:
            name, why = problem
            raise SettingsError(f"{origins.get(name, name)}: {why}")
        if check_dirs:
            settings._check_dirs()
        return settings

    def _out_of_range(self) -> tuple[str, str] | None:
        """The first setting whose value parses but cannot be used, and why."""
        if not 0 <= self.port <= 65535:
            return "port", f"{self.port} is not a TCP port (0-65535)"
        if self.base_url is not None:
            parts = urlsplit(self.base_url)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                return "base_url", f"{self.base_url!r} is not an absolute http(s) URL"
        for name in ("poll_interval", "debounce"):
            if getattr(self, name) <= 0:
                return name, "must be a positive number of seconds"
        if self.rescan_interval < 0:
            return "rescan_interval", "must be 0 (off) or a positive number of seconds"
        if not 1 <= self.page_size <= MAX_LIMIT:
            return "page_size", f"{self.page_size} is outside 1-{MAX_LIMIT}"
        if self.max_bytes < 1024:
            return "max_bytes", f"{self.max_bytes} is too small (at least 1024)"
        if self.max_age < 0:
            return "max_age", "must not be negative"
        if self.shared_max_age < 0:
            return "shared_max_age", "must not be negative"
        if "," not in self.tag_authority:
            return "tag_authority", f"{self.tag_authority!r} needs a date: authority,YYYY[-MM[-DD]]"
        return None

    def _check_dirs(self) -> None:
        if not self.seeds.is_dir():
            raise SettingsError(f"seeds folder {str(self.seeds)!r} does not exist or is not a folder")
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.state_dir, prefix=".probe-"):
                pass
        except OSError as exc:
            raise SettingsError(
                f"state folder {str(self.state_dir)!r} is not writable: {exc.strerror or exc}") from None

    @property
    def loopback(self) -> bool:
        """Whether the service listens on loopback only (as `make run` does)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def trusted_proxy(self, address: str | None) -> bool:
        """Whether a peer address (as aiohttp reports it; an IPv6 zone allowed) is one of the
        trusted proxies, whose X-Forwarded-* headers may then say who the client is and what
        URL it asked for."""
        if not self.trusted_proxies or not address:
            return False
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)  # False across IP versions

    @property
    def bound_url(self) -> str:
        """The base URL feeds are pre-rendered for when none is configured."""
        if self.base_url:
            return self.base_url.rstrip("/")
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::", ""} else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per setting; defaults stay None so FEEDSVC_* variables can fill them."""
    for spec in SPEC:
        kwargs: dict[str, Any] = {"default": None, "dest": spec.name,
                                  "help": f"{spec.help} [{spec.env}, default: {spec.default}]"}
        if spec.choices:
            kwargs["choices"] = spec.choices
        parser.add_argument(spec.flag, **kwargs)
