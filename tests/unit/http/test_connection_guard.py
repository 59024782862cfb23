"""The slow-client guard's check of aiohttp's internals (feedsvc.http.connections.check), in-process:
it passes on the installed aiohttp and names what changed in one that moved. The service's answer to
such an aiohttp (serving unguarded, and saying so) is in integration/test_connections.py."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from feedsvc.http import connections

# -- the guard's check of aiohttp's internals ------------------------------------------------------

KWARGS = {"access_log": None, "keepalive_timeout": connections.KEEPALIVE_TIMEOUT}


async def _check() -> list[str]:
    """The check as a guarded site runs it, against a bare application (every path a 404)."""
    runner = web.AppRunner(web.Application(), **KWARGS)  # type: ignore[arg-type]
    await runner.setup()
    try:
        assert runner.server is not None
        return await connections.check(runner.server, asyncio.get_running_loop(), dict(KWARGS))
    finally:
        await runner.cleanup()


async def test_the_check_passes_on_the_installed_aiohttp() -> None:
    started = time.monotonic()
    assert await _check() == []
    assert time.monotonic() - started < 1, "the check is cheap enough for every start"


def _slots_without(name: str) -> tuple[str, ...]:
    return tuple(f"{slot}_renamed" if slot == name else slot for slot in RequestHandler.__slots__)


def _hide_the_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """An aiohttp that counts request heads elsewhere than in data_received."""
    received = RequestHandler.data_received

    def data_received(self: RequestHandler, data: bytes) -> None:
        received(self, data)
        self._request_count = 0
    monkeypatch.setattr(RequestHandler, "data_received", data_received)


def _errors_answered_elsewhere(self: RequestHandler, err_info: Any) -> Callable[[Any], Any]:
    """An aiohttp that answers a request it cannot parse without calling handle_error."""
    async def handler(request: Any) -> web.StreamResponse:
        response = web.Response(status=400, text=f"Bad request: {err_info.message}")
        response.force_close()
        return response
    return handler


def _handle_error_renamed(self: RequestHandler, request: Any, status: int = 500, exc: Any = None,
                          text: str | None = None) -> Any:
    raise AssertionError("not called")


def _init_without_keepalive(self: RequestHandler, manager: Any, *, loop: Any, access_log: Any = None,
                            idle_timeout: float = 75.0) -> None:
    raise AssertionError("not called")


def _waiter_from_start(init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def patched(self: RequestHandler, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self._waiter = asyncio.get_event_loop().create_future()
    return patched


CHANGES: dict[str, tuple[Callable[[pytest.MonkeyPatch], None], str]] = {
    "_waiter renamed": (lambda mp: mp.setattr(RequestHandler, "__slots__", _slots_without("_waiter")),
                        "RequestHandler._waiter is gone"),
    "_request_count renamed": (lambda mp: mp.setattr(RequestHandler, "__slots__", _slots_without("_request_count")),
                               "RequestHandler._request_count is gone"),
    "_waiter set from the start": (
        lambda mp: mp.setattr(RequestHandler, "__init__", _waiter_from_start(RequestHandler.__init__)),
        "RequestHandler._waiter is "),
    "handle_error's arguments": (lambda mp: mp.setattr(RequestHandler, "handle_error", _handle_error_renamed),
                                 "handle_error takes (request, status, exc, text)"),
    "__init__ without keepalive_timeout": (lambda mp: mp.setattr(RequestHandler, "__init__", _init_without_keepalive),
                                           "takes no keepalive_timeout"),
    "a name of the guard's taken": (lambda mp: mp.setattr(RequestHandler, "_heads", 0, raising=False),
                                    "RequestHandler has its own _heads"),
    "heads counted elsewhere": (_hide_the_count, "self-check: aiohttp's _request_count is 0 after one request head"),
    "parse errors answered elsewhere": (
        lambda mp: mp.setattr(RequestHandler, "_make_error_handler", _errors_answered_elsewhere),
        "self-check: a malformed request was not answered by the guard's handle_error"),
}


@pytest.mark.parametrize("change", list(CHANGES))
async def test_the_check_names_what_changed(change: str, monkeypatch: pytest.MonkeyPatch) -> None:
    patch, said = CHANGES[change]
    patch(monkeypatch)
    differs = await _check()
    assert any(said in line for line in differs), differs
