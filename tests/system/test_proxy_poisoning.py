"""A caching nginx in front of feedsvc (its default proxy_cache key, which ignores Host): links
cannot be poisoned through Host or X-Forwarded-Host. (The shipped edge config: test_edge.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

from helpers import make_doc, poll_until, require_tool, write
from helpers.servers import free_port

NGINX_CONF = """
{user}
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi;
    uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    proxy_cache_path {tmp}/cache keys_zone=feeds:1m;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_cache feeds;
            proxy_cache_valid 200 5m;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Host $http_x_forwarded_host;
        }}
    }}
}}
"""


def test_a_caching_proxy_cannot_be_poisoned_through_host_headers(seeds: Path, state: Path, server_factory: Any,
                                                                 tmp_path: Path) -> None:
    """nginx's default proxy_cache key ignores Host and X-Forwarded-Host: if feedsvc built links
    from them, an attacker's first request would fix the links everyone else is served."""
    nginx = require_tool("nginx")
    write(seeds, "a.txt", make_doc(1))
    server = server_factory(seeds, state)  # no base URL, no trusted proxy: the defaults
    port, conf = free_port(), tmp_path / "nginx.conf"
    # As root, nginx's workers would run as nobody, who cannot enter pytest's private folders.
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(NGINX_CONF.format(user=user, tmp=tmp_path, port=port, upstream=server.port))
    proc = subprocess.Popen([nginx, "-e", str(tmp_path / "error.log"), "-p", str(tmp_path), "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def through(path: str, headers: dict[str, str]) -> bytes:
            with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                                               headers=headers), timeout=5) as response:
                return response.read()

        poll_until(lambda: _answers(port), "nginx")
        for path in ("/feed.atom", "/feed.rss", "/feed.json", "/", "/feed.atom?limit=3"):
            poisoned = through(path, {"Host": "evil.example", "X-Forwarded-Host": "evil.example"})
            assert b"evil.example" not in poisoned, path
            served = through(path, {})
            assert b"evil.example" not in served and f"127.0.0.1:{server.port}".encode() in served, path
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
            return True
    except OSError:
        return False
