"""Settings.build: flags over FEEDSVC_* variables over defaults, validation, and the folders checked at start."""

from __future__ import annotations

import argparse
import ipaddress
from pathlib import Path
from typing import Any

import pytest

from feedsvc.settings import ENV_PREFIX, SPEC, Settings, SettingsError, add_arguments

NAMES = {spec.name for spec in SPEC}
BY_NAME = {spec.name: spec for spec in SPEC}

# A valid value other than the default for every setting: (as typed, as parsed).
ALTERNATES: dict[str, tuple[str, Any]] = {
    "seeds": ("other-seeds", Path("other-seeds")),
    "host": ("::1", "::1"),
    "port": ("9090", 9090),
    "base_url": ("https://feeds.example.org/news/", "https://feeds.example.org/news/"),
    "state_dir": ("other-state", Path("other-state")),
    "watch": ("polling", "polling"),
    "poll_interval": ("2.5", 2.5),
    "rescan_interval": ("0", 0.0),
    "debounce": ("0.25", 0.25),
    "pattern": ("*.md", "*.md"),
    "max_bytes": ("4096", 4096),
    "title": ("A title", "A title"),
    "subtitle": ("A subtitle", "A subtitle"),
    "author": ("An author", "An author"),
    "tag_authority": ("example.org,2026-01", "example.org,2026-01"),
    "language": ("en", "en"),
    "page_size": ("10", 10),
    "max_age": ("0", 0),
    "shared_max_age": ("10", 10),
    "log_level": ("debug", "debug"),
    "log_format": ("json", "json"),
    "metrics": ("false", False),
    "uvloop": ("no", False),
    "trusted_proxies": ("127.0.0.1, 10.0.0.0/8", (ipaddress.ip_network("127.0.0.1/32"),
                                                 ipaddress.ip_network("10.0.0.0/8"))),
    "editor_token": ("s3cret-token", "s3cret-token"),
    "websub": ("off", False),
    "websub_hubs": ("https://hub.example.org/, http://127.0.0.1:9/hub",
                    ("https://hub.example.org/", "http://127.0.0.1:9/hub")),
    "edge_refresh": ("http://edge:8080", ("http://edge:8080",)),
    "websub_allow_callbacks": ("127.0.0.0/8,::1", (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1"))),
}
PATHS = {"seeds", "state_dir"}


def build(values: dict[str, Any] | None = None, env: dict[str, str] | None = None, **kw: Any) -> Settings:
    return Settings.build(values or {}, env=env or {}, check_dirs=kw.pop("check_dirs", False), **kw)


def same_path(got: Path, given: Path) -> bool:
    """Whether `got` is `given` as typed or resolved against the working directory (either is fine here)."""
    return got in (given, (Path.cwd() / given).resolve())


def check(settings: Settings, name: str, expected: Any) -> None:
    got = getattr(settings, name)
    if name in PATHS:
        assert same_path(got, expected), (name, got)
    else:
        assert got == expected and type(got) is type(expected), (name, got)


# -- names ------------------------------------------------------------------------------------


def test_every_setting_has_an_alternate_value_here() -> None:
    assert set(ALTERNATES) == NAMES
    assert len(SPEC) == len(NAMES), "setting names are unique"


@pytest.mark.parametrize("spec", SPEC, ids=lambda s: s.name)
def test_every_setting_has_a_flag_and_an_env_name(spec: Any) -> None:
    assert spec.flag == "--" + spec.name.replace("_", "-")
    assert spec.env == ENV_PREFIX + spec.name.upper() and spec.env.startswith("FEEDSVC_")
    assert spec.help


def test_flag_and_env_names_are_unique() -> None:
    assert len({s.flag for s in SPEC}) == len(SPEC)
    assert len({s.env for s in SPEC}) == len(SPEC)


@pytest.mark.parametrize("name", sorted(NAMES))
def test_every_setting_is_read_from_its_env_variable(name: str) -> None:
    raw, expected = ALTERNATES[name]
    default = build()
    settings = build(env={BY_NAME[name].env: raw})
    check(settings, name, expected)
    assert getattr(settings, name) != getattr(default, name), "the alternate differs from the default"


@pytest.mark.parametrize("name", sorted(NAMES))
def test_every_setting_is_read_from_its_flag(name: str) -> None:
    raw, expected = ALTERNATES[name]
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = vars(parser.parse_args([BY_NAME[name].flag, raw]))
    assert set(args) == NAMES
    check(build(args), name, expected)


def test_unset_flags_from_argparse_fall_through_to_env_and_defaults() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = vars(parser.parse_args([]))
    assert all(value is None for value in args.values())
    settings = build(args, env={"FEEDSVC_PORT": "7070"})
    assert settings.port == 7070
    assert settings.title == BY_NAME["title"].default


# -- precedence -------------------------------------------------------------------------------


def test_flags_win_over_env_which_wins_over_defaults() -> None:
    env = {"FEEDSVC_PORT": "2222", "FEEDSVC_TITLE": "Title from env", "FEEDSVC_PAGE_SIZE": "20"}
    settings = build({"port": "1111", "page_size": None}, env)
    assert settings.port == 1111, "the flag wins"
    assert settings.title == "Title from env", "the variable wins over the default"
    assert settings.page_size == 20, "an unset (None) flag lets the variable through"
    assert settings.author == BY_NAME["author"].default
    assert settings.max_age == BY_NAME["max_age"].default


def test_defaults_without_flags_or_env() -> None:
    settings = build()
    for spec in SPEC:
        if spec.name in PATHS:
            assert same_path(getattr(settings, spec.name), Path(spec.default))
        else:
            assert getattr(settings, spec.name) == spec.default, spec.name


def test_env_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDSVC_PORT", "6060")
    monkeypatch.setenv("FEEDSVC_LOG_LEVEL", "warning")
    settings = Settings.build({"log_level": "error"}, check_dirs=False)
    assert settings.port == 6060
    assert settings.log_level == "error"


def test_other_variables_are_ignored() -> None:
    settings = build(env={"PORT": "1", "FEEDSVC_NOT_A_SETTING": "x", "feedsvc_port": "2"})
    assert settings.port == BY_NAME["port"].default


def test_flag_values_may_be_already_parsed() -> None:
    settings = build({"port": 9000, "metrics": False, "debounce": 0.5})
    assert (settings.port, settings.metrics, settings.debounce) == (9000, False, 0.5)


def test_an_empty_base_url_variable_means_unset() -> None:
    assert build(env={"FEEDSVC_BASE_URL": ""}).base_url is None


@pytest.mark.parametrize(("text", "expected"), [("1", True), ("TRUE", True), (" yes ", True), ("On", True),
                                                ("0", False), ("false", False), ("NO", False), ("off", False)])
def test_boolean_spellings(text: str, expected: bool) -> None:
    assert build(env={"FEEDSVC_METRICS": text}).metrics is expected


# -- bad values -------------------------------------------------------------------------------


@pytest.mark.parametrize(("values", "env", "origin"), [
    ({"port": "eighty"}, {}, "--port"),
    ({}, {"FEEDSVC_PORT": "eighty"}, "FEEDSVC_PORT"),
    ({}, {"FEEDSVC_PORT": "80.5"}, "FEEDSVC_PORT"),
    ({"debounce": "soon"}, {}, "--debounce"),
    ({}, {"FEEDSVC_PAGE_SIZE": "ten"}, "FEEDSVC_PAGE_SIZE"),
    ({}, {"FEEDSVC_METRICS": "maybe"}, "FEEDSVC_METRICS"),
    ({"watch": "fsevents"}, {}, "--watch"),
    ({}, {"FEEDSVC_WATCH": "fsevents"}, "FEEDSVC_WATCH"),
    ({"language": "ru"}, {}, "--language"),
    ({}, {"FEEDSVC_LOG_LEVEL": "loud"}, "FEEDSVC_LOG_LEVEL"),
    ({"port": "eighty"}, {"FEEDSVC_PORT": "8080"}, "--port"),
])
def test_a_value_that_does_not_parse_names_its_flag_or_variable(values: dict[str, str], env: dict[str, str],
                                                               origin: str) -> None:
    with pytest.raises(SettingsError) as caught:
        build(values, env)
    message = str(caught.value)
    assert message.startswith(origin + ":"), message
    assert "\n" not in message


def test_a_bad_choice_lists_the_choices() -> None:
    with pytest.raises(SettingsError, match=r"--watch: 'fsevents' is not one of inotify, polling"):
        build({"watch": "fsevents"})


# Values that parse but are out of range: (setting, value, words the message must hold).
OUT_OF_RANGE = [
    ("port", "70000", "70000"),
    ("port", "-1", "-1"),
    ("base_url", "feeds.example.org", "feeds.example.org"),
    ("base_url", "ftp://feeds.example.org/", "ftp://feeds.example.org/"),
    ("base_url", "https://", "https://"),
    ("page_size", "0", "1-500"),
    ("page_size", "501", "1-500"),
    ("tag_authority", "example.org", "example.org"),
    ("poll_interval", "0", "positive number of seconds"),
    ("debounce", "-0.5", "positive number of seconds"),
    ("rescan_interval", "-1", "0 (off) or a positive number"),
    ("max_bytes", "1023", "1023"),
    ("shared_max_age", "-1", "must not be negative"),
    ("max_age", "-1", "must not be negative"),
]


@pytest.mark.parametrize(("name", "raw", "words"), OUT_OF_RANGE)
@pytest.mark.parametrize("via", ["flag", "env"])
def test_an_out_of_range_value_is_refused(name: str, raw: str, words: str, via: str) -> None:
    values, env = ({name: raw}, {}) if via == "flag" else ({}, {BY_NAME[name].env: raw})
    with pytest.raises(SettingsError) as caught:
        build(values, env)
    assert words in str(caught.value)


@pytest.mark.parametrize(("name", "raw"), [("port", "1"), ("port", "65535"), ("port", "0"), ("page_size", "1"),
                                           ("page_size", "500"), ("max_bytes", "1024"), ("base_url", "http://x"),
                                           ("tag_authority", "a,2026")])
def test_values_at_the_edge_of_their_range_are_accepted(name: str, raw: str) -> None:
    assert str(getattr(build({name: raw}), name)).rstrip("/") == raw


@pytest.mark.parametrize(("name", "raw"), [("port", "70000"), ("base_url", "feeds.example.org"),
                                           ("page_size", "0"), ("tag_authority", "example.org")])
@pytest.mark.parametrize("via", ["flag", "env"])
def test_an_out_of_range_value_names_its_flag_or_variable(name: str, raw: str, via: str) -> None:
    spec = BY_NAME[name]
    values, env = ({name: raw}, {}) if via == "flag" else ({}, {spec.env: raw})
    with pytest.raises(SettingsError) as caught:
        build(values, env)
    assert (spec.flag if via == "flag" else spec.env) in str(caught.value)


# -- folders ----------------------------------------------------------------------------------


def test_check_dirs_accepts_real_folders_and_creates_the_state_folder(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    state = tmp_path / "var" / "state"
    settings = build({"seeds": str(seeds), "state_dir": str(state)}, check_dirs=True)
    assert state.is_dir()
    assert list(state.iterdir()) == [], "the write probe is removed"
    assert same_path(settings.seeds, seeds) and same_path(settings.state_dir, state)


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_check_dirs_refuses_a_missing_seeds_folder(tmp_path: Path, kind: str) -> None:
    seeds = tmp_path / "seeds"
    if kind == "file":
        seeds.write_text("not a folder")
    with pytest.raises(SettingsError, match=r"seeds folder .* does not exist or is not a folder") as caught:
        build({"seeds": str(seeds), "state_dir": str(tmp_path / "state")}, check_dirs=True)
    assert str(seeds) in str(caught.value)
    assert not (tmp_path / "state").exists(), "nothing is created for a start that fails"


@pytest.mark.parametrize("where", ["a file", "below a file"])
def test_check_dirs_refuses_an_unwritable_state_folder(tmp_path: Path, where: str) -> None:
    # Tests run as root, which chmod does not stop: a file where the folder should be does.
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    state = blocker if where == "a file" else blocker / "state"
    with pytest.raises(SettingsError, match=r"state folder .* is not writable") as caught:
        build({"seeds": str(seeds), "state_dir": str(state)}, check_dirs=True)
    assert str(state) in str(caught.value)
    assert "\n" not in str(caught.value)
    assert blocker.read_text() == "a file"


def test_without_check_dirs_the_folders_are_not_touched(tmp_path: Path) -> None:
    settings = build({"seeds": str(tmp_path / "nope"), "state_dir": str(tmp_path / "state")})
    assert not (tmp_path / "state").exists()
    assert same_path(settings.seeds, tmp_path / "nope")


@pytest.mark.parametrize(("seeds", "state_dir"), [("seeds", "var"), ("./a/../seeds", "sub/state")])
def test_relative_paths_are_resolved_against_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   seeds: str, state_dir: str) -> None:
    monkeypatch.chdir(tmp_path)
    settings = build({"seeds": seeds, "state_dir": state_dir})
    assert settings.seeds.is_absolute() and settings.state_dir.is_absolute()
    assert settings.seeds == (Path.cwd() / seeds).resolve()
    assert settings.state_dir == (Path.cwd() / state_dir).resolve()


# -- bound_url --------------------------------------------------------------------------------


@pytest.mark.parametrize(("host", "port", "expected"), [
    ("0.0.0.0", "8080", "http://127.0.0.1:8080"),
    ("::", "8080", "http://127.0.0.1:8080"),
    ("", "9000", "http://127.0.0.1:9000"),
    ("::1", "8081", "http://[::1]:8081"),
    ("fd00::1:2", "80", "http://[fd00::1:2]:80"),
    ("192.0.2.7", "8443", "http://192.0.2.7:8443"),
    ("feeds.internal", "8080", "http://feeds.internal:8080"),
])
def test_bound_url_without_a_base_url(host: str, port: str, expected: str) -> None:
    assert build({"host": host, "port": port}).bound_url == expected


@pytest.mark.parametrize(("base_url", "expected"), [("https://feeds.example.org/", "https://feeds.example.org"),
                                                    ("https://example.org/news//", "https://example.org/news"),
                                                    ("http://[::1]:8080", "http://[::1]:8080")])
def test_bound_url_is_the_base_url_when_set(base_url: str, expected: str) -> None:
    assert build({"base_url": base_url, "host": "0.0.0.0"}).bound_url == expected
