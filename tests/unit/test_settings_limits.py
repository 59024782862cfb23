"""What feedsvc.settings owns besides the settings: the page-size limits and the trusted-proxy check."""

from __future__ import annotations

from typing import Any

import pytest

from feedsvc.settings import DEFAULT_PAGE_SIZE, MAX_LIMIT, NEWSROOM_PAGE_SIZE, Settings, SettingsError


def _settings(**values: Any) -> Settings:
    return Settings.build({k: str(v) for k, v in values.items()}, env={}, check_dirs=False)


def test_page_size_defaults_and_bounds() -> None:
    assert _settings().page_size == DEFAULT_PAGE_SIZE <= MAX_LIMIT
    assert NEWSROOM_PAGE_SIZE <= MAX_LIMIT
    assert _settings(page_size=MAX_LIMIT).page_size == MAX_LIMIT
    with pytest.raises(SettingsError, match=f"outside 1-{MAX_LIMIT}"):
        _settings(page_size=MAX_LIMIT + 1)


@pytest.mark.parametrize(("peer", "trusted"), [
    ("127.0.0.1", True),
    ("10.1.2.3", True),  # inside 10.0.0.0/8
    ("10.1.2.3%eth0", True),  # a zone is not part of the address
    ("::1", True),
    ("fe80::1%eth0", False),
    ("192.0.2.1", False),
    ("::ffff:127.0.0.1", False),  # IPv6, though it maps 127.0.0.1: networks of one version only
    ("not an address", False),
    ("", False),
    (None, False),
])
def test_trusted_proxy(peer: str | None, trusted: bool) -> None:
    settings = _settings(trusted_proxies="127.0.0.1, 10.0.0.0/8, ::1")
    assert settings.trusted_proxy(peer) is trusted


def test_no_proxy_is_trusted_by_default() -> None:
    assert not _settings().trusted_proxy("127.0.0.1")
