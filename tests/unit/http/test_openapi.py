"""docs/openapi.yaml describes every route of the app, and every feed's parameters and answers.
(It is fuzzed against a real server by system/test_schemathesis.py.)"""

from __future__ import annotations

import tempfile
from pathlib import Path as P

import pytest
from helpers import ROOT, settings_for
from helpers.feeds import FEEDS

from feedsvc.http.app import create_app

OPENAPI = ROOT / "docs" / "openapi.yaml"


def test_openapi_describes_every_route() -> None:
    yaml = pytest.importorskip("yaml")  # PyYAML comes with schemathesis

    spec = yaml.safe_load(OPENAPI.read_text())
    assert str(spec["openapi"]).startswith("3.")
    paths = spec["paths"]
    assert set(FEEDS) | {"/", "/healthz", "/metrics"} <= set(paths)
    for feed in FEEDS:
        op = paths[feed]["get"]
        assert {p.get("$ref", "").rsplit("/", 1)[-1] for p in op["parameters"]} == {"limit", "page", "q"}
        assert {"200", "304", "400", "404"} <= set(op["responses"]), feed
    assert {"200", "503"} <= set(paths["/healthz"]["get"]["responses"])
    with tempfile.TemporaryDirectory() as tmp:
        (P(tmp) / "s").mkdir()
        app = create_app(settings_for(P(tmp) / "s", P(tmp) / "st"))
        routes = {r.resource.canonical for r in app.router.routes() if r.method in ("GET", "POST")}
    routes.discard("/{tail}")
    assert routes == set(paths), f"routes and docs/openapi.yaml disagree: {routes ^ set(paths)}"
