"""/healthz is public: anyone gets the status, the counts and what is wrong in general words; file
names, paths and rejection texts only editors, by the rule of /status (the editor token as a Bearer
header or cookie; loopback when no token is set)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from helpers import SEED, write
from helpers.feeds import fetch

from feedsvc.ops.health import Concern

TOKEN = "correct-horse-battery-staple"
SECRET = "leaked-draft-kuleba-interview.txt"


@pytest.fixture
def troubled(seeds: Path, state: Path) -> tuple[Path, Path]:
    """One good digest, one rejected file with a telling name, and an index that must be rebuilt:
    a problem whose text names a file."""
    shutil.copy(SEED, seeds)
    write(seeds, SECRET, "")
    state.mkdir()
    (state / "index.sqlite3").write_bytes(b"not a database at all " * 100)
    return seeds, state


async def _healthz(client: Any, **headers: str) -> tuple[int, dict[str, Any], str, Any]:
    status, response_headers, body = await fetch(client, "/healthz", **headers)
    return status, json.loads(body), body.decode(), response_headers


def _assert_same_shape(anonymous: dict[str, Any], editor: dict[str, Any]) -> None:
    """What monitors read is there for anyone, of the same types."""
    assert set(anonymous) == set(editor)
    for key in anonymous:
        assert type(anonymous[key]) is type(editor[key]), key
    assert all(isinstance(p, str) for p in anonymous["problems"])


async def test_anonymous_callers_get_general_words_only(troubled: tuple[Path, Path], start_app: Any) -> None:
    seeds, state = troubled
    client = await start_app(seeds, state, host="0.0.0.0", editor_token=TOKEN)
    status, anonymous, raw, headers = await _healthz(client)
    assert status == 200 and anonymous["status"] == "degraded", anonymous
    assert anonymous["documents"] == 1 and anonymous["rejected"] == [] and anonymous["rejected_total"] == 1
    assert anonymous["problems"] == [Concern.INDEX.general], anonymous
    assert anonymous["index"] == "file" and anonymous["detail"] is False
    assert anonymous["watcher"] in ("alive", "dead") and anonymous["last_change"]
    for secret in ("leaked-draft", "empty file", str(state), str(seeds), "index.sqlite3", "moved aside", "broken"):
        assert secret not in raw, secret
    assert headers["Cache-Control"] == "no-store" and "Authorization" in headers["Vary"]

    for wrong in ({"Authorization": "Bearer wrong"}, {"Cookie": "feedsvc_editor=wrong"}):
        assert (await _healthz(client, **wrong))[1] == anonymous

    for credentials in ({"Authorization": f"Bearer {TOKEN}"}, {"Cookie": f"feedsvc_editor={TOKEN}"}):
        status, editor, raw, _ = await _healthz(client, **credentials)
        assert status == 200 and editor["status"] == "degraded" and editor["detail"] is True
        assert editor["rejected"] == [{"path": SECRET, "reason": "empty file (no text)", "kind": "empty",
                                       "line": None}]
        assert len(editor["problems"]) == 1 and "moved aside" in editor["problems"][0], editor
        assert editor["index"] == str(state / "index.sqlite3")
        _assert_same_shape(anonymous, editor)


async def test_on_loopback_without_a_token_everyone_is_an_editor(troubled: tuple[Path, Path],
                                                                 start_app: Any) -> None:
    """As for /status: a service only this machine can reach shows it all."""
    seeds, state = troubled
    client = await start_app(seeds, state, host="127.0.0.1")
    assert (await fetch(client, "/status.json"))[0] == 200
    status, body, raw, _ = await _healthz(client)
    assert status == 200 and body["detail"] is True and SECRET in raw
    assert body["rejected"][0]["reason"] == "empty file (no text)" and "moved aside" in body["problems"][0]


async def test_beyond_loopback_without_a_token_nobody_is(troubled: tuple[Path, Path], start_app: Any) -> None:
    seeds, state = troubled
    client = await start_app(seeds, state, host="0.0.0.0")
    assert (await fetch(client, "/status.json"))[0] == 401
    status, body, raw, _ = await _healthz(client)
    assert status == 200 and body["detail"] is False and body["rejected_total"] == 1
    assert SECRET not in raw and body["problems"] == [Concern.INDEX.general]
