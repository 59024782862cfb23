"""docker-compose.yml and the Dockerfile keep their promises, read without a container engine.

`make compose-check` really builds and runs the compose project (podman, slow, not part of
`make test`); this is the fast part: the file is parsed (PyYAML), its `${VAR:-default}`
interpolated as `docker compose` / `podman-compose` would with nothing set, and checked: seeds
mounted read-only, a read-only root, a non-root user, a healthcheck on /healthz, ports on
loopback by default, and every FEEDSVC_* it sets is a setting the service knows, with a value
Settings.build accepts and, where the file does not fix it, the service's own default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from feedsvc.settings import SPEC, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
KNOWN = {spec.env for spec in SPEC}
# Read on the host side only (where a port is published), never inside a container.
HOST_SIDE = {"FEEDSVC_BIND", "FEEDSVC_EDGE_PORT"}
# Fixed by the image layout or the published address rather than the service's defaults.
FIXED = {"seeds", "state_dir", "host", "base_url"}
FEEDSVC_SERVICES = ("feedsvc", "feedsvc-b")


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's variable syntax: $$, $VAR, ${VAR}, ${VAR:-x}, ${VAR-x}, ${VAR:+x}, ${VAR+x},
    ${VAR:?msg}, ${VAR?msg}, where x may hold more of them."""
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch != "$":
            out.append(ch)
            i += 1
        elif text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            depth, j = 1, i + 2
            while depth:  # to the matching brace: a default may hold ${...} itself
                if j >= len(text):
                    raise ValueError(f"unclosed ${{ in {text!r}")
                if text[j] == "}":
                    depth -= 1
                elif text[j] == "{" and text[j - 1] == "$":
                    depth += 1
                j += 1
            body = text[i + 2 : j - 1]
            m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])(.*))?", body, flags=re.DOTALL)
            if not m:
                raise ValueError(f"bad substitution ${{{body}}}")
            name, op, arg = m[1], m[2], m[3] or ""
            value = env.get(name)
            usable = value is not None and (value != "" or not (op or "").startswith(":"))
            if op in (":-", "-"):
                out.append(value if usable and value is not None else interpolate(arg, env))
            elif op in (":+", "+"):
                out.append(interpolate(arg, env) if usable else "")
            elif op in (":?", "?"):
                if not usable:
                    raise ValueError(f"{name} is required: {arg}")
                out.append(value or "")
            else:
                out.append(value or "")
            i = j
        else:
            m = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)", text[i:])
            if not m:
                out.append(ch)
                i += 1
                continue
            out.append(env.get(m[1], ""))
            i += m.end()
    return "".join(out)


def resolved(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [resolved(x, env) for x in node]
    if isinstance(node, dict):
        return {k: resolved(v, env) for k, v in node.items()}
    return node


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return {k: v for k, v in resolved(data, {}).items() if not k.startswith("x-")}


def test_interpolation_as_compose_does_it() -> None:
    env = {"SET": "v", "EMPTY": ""}
    assert interpolate("${SET:-d}|${UNSET:-d}|${EMPTY:-d}|${EMPTY-d}|$$SET|$SET", env) == "v|d|d||$SET|v"
    assert interpolate("${A:-http://h:${P:-8080}}/x", env) == "http://h:8080/x"
    assert interpolate("${A:-http://h:${P:-8080}}/x", {"P": "9"}) == "http://h:9/x"
    with pytest.raises(ValueError):
        interpolate("${NEEDED:?set it}", env)


def test_every_variable_the_file_reads_is_known() -> None:
    """A misspelt ${FEEDSVC_...} would silently fall back to its default."""
    text = COMPOSE.read_text(encoding="utf-8")
    read = set(re.findall(r"\$\{?(FEEDSVC_[A-Z0-9_]+)", text))
    assert read, "docker-compose.yml reads no FEEDSVC_* variable"
    assert read <= KNOWN | HOST_SIDE, f"unknown variables: {sorted(read - KNOWN - HOST_SIDE)}"


def test_services_run_from_the_dockerfile_on_a_read_only_root(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(FEEDSVC_SERVICES) <= set(services)
    for name, service in services.items():
        assert "build" in service and "image" not in service, f"{name}: nothing can be pulled; build it"
        assert service["build"].get("dockerfile", "Dockerfile") == "Dockerfile"
        assert service.get("read_only") is True, f"{name}: root filesystem must be read-only"
        assert "/tmp" in service.get("tmpfs", []), f"{name}: needs a tmpfs /tmp on a read-only root"
        assert str(service.get("user", "nobody")).split(":")[0] not in {"0", "root"}, f"{name} runs as root"
        assert service.get("restart") == "unless-stopped"


def test_seeds_mounted_read_only_and_state_in_a_named_volume(compose: dict[str, Any]) -> None:
    for name in FEEDSVC_SERVICES:
        volumes = compose["services"][name]["volumes"]
        assert "./seeds:/seeds:ro" in volumes, f"{name}: ./seeds must be mounted read-only at /seeds"
        state = [v for v in volumes if v.split(":")[1] == "/var/lib/feedsvc"]
        assert len(state) == 1 and state[0].split(":")[0] in compose["volumes"], f"{name}: state volume"
        env = compose["services"][name]["environment"]
        assert env["FEEDSVC_SEEDS"] == "/seeds" and env["FEEDSVC_STATE_DIR"] == "/var/lib/feedsvc"
    states = [v.split(":")[0] for n in FEEDSVC_SERVICES for v in compose["services"][n]["volumes"] if "/var/lib" in v]
    assert len(set(states)) == len(states), "each replica keeps its own state (SQLite is not shared)"


def test_healthchecks_ask_healthz_with_python(compose: dict[str, Any]) -> None:
    """python, not curl: python:*-slim has no curl."""
    for name, service in compose["services"].items():
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        test = check["test"]
        assert test[0] == "CMD" and test[1] == "python", f"{name}: {test}"
        assert "http://127.0.0.1:8080/healthz" in " ".join(test)
        assert check.get("start_period") and check.get("interval")


def test_ports_are_loopback_by_default(compose: dict[str, Any]) -> None:
    published = [p for s in compose["services"].values() for p in s.get("ports", [])]
    assert published, "nothing published"
    for port in published:
        host, _, container = str(port).rpartition(":")
        assert host.startswith("127.0.0.1:") and container == "8080", port


def test_the_stop_signal_is_graceful(compose: dict[str, Any]) -> None:
    for name in FEEDSVC_SERVICES:
        assert compose["services"][name]["stop_signal"] == "SIGTERM"  # aiohttp's run_app shuts down on it
    assert compose["services"]["edge"]["stop_signal"] == "SIGQUIT"  # nginx's graceful stop


@pytest.mark.parametrize("name", FEEDSVC_SERVICES)
def test_environment_holds_known_settings_with_valid_default_values(compose: dict[str, Any], name: str) -> None:
    env = compose["services"][name]["environment"]
    assert isinstance(env, dict)
    feedsvc_vars = {k for k in env if k.startswith("FEEDSVC_")}
    assert feedsvc_vars <= KNOWN, f"{name}: not settings of feedsvc: {sorted(feedsvc_vars - KNOWN)}"
    # The file's header promises every setting as a variable, with the service's default.
    missing = sorted(KNOWN - feedsvc_vars)
    assert not missing, f"{name}: settings missing from docker-compose.yml: {missing}"
    built = Settings.build(env={k: str(v) for k, v in env.items()}, check_dirs=False)
    default = Settings.build(env={}, check_dirs=False)
    fixed = FIXED | ({"edge_refresh"} if name == "feedsvc-b" else set())
    differ = {f.name: (getattr(built, f.name), getattr(default, f.name))
              for f in fields(Settings) if f.name not in fixed and getattr(built, f.name) != getattr(default, f.name)}
    assert not differ, f"{name}: compose defaults differ from the service's (compose, service): {differ}"
    assert built.host == "0.0.0.0" and built.port == 8080  # the container's side of the published port
    assert built.base_url == "http://127.0.0.1:8080"


def dockerfile_stages() -> dict[str, list[str]]:
    """Instructions per stage (continuation lines joined), by the stage's name ('' for the last, unnamed one)."""
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            m = re.search(r"\s+AS\s+(\S+)$", line, flags=re.IGNORECASE)
            current = stages.setdefault(m[1] if m else "", [])
        current.append(line)
    return stages


def test_images_run_as_non_root_users() -> None:
    stages = dockerfile_stages()
    for stage in ("", "edge"):
        users = [line.split()[1] for line in stages[stage] if line.upper().startswith("USER ")]
        assert users and users[-1].split(":")[0] not in {"0", "root"}, f"stage {stage or 'runtime'} runs as root"


def test_the_image_installs_the_lock_and_knows_its_variables() -> None:
    build = " ".join(dockerfile_stages()["build"])
    assert "--require-hashes --no-deps -r requirements/build.txt" in build
    assert "--require-hashes --no-deps --no-build-isolation -r requirements/service.txt" in build
    assert "--no-deps --no-build-isolation ." in build
    runtime = " ".join(dockerfile_stages()[""])
    assert set(re.findall(r"\b(FEEDSVC_[A-Z0-9_]+)=", runtime)) <= KNOWN
