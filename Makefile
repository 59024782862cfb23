# The two commands in the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench fuzz load compose-check tools clean lock upgrade-check

# Installs are locked (issue 23: fresh machines got a watchdog patch release the code was not ready for).
# requirements/*.txt pin every package, with hashes, for every platform at once: service.txt (the
# image), test.txt (service + test extra: `make run`, `make test`), bench.txt (test + bench extra),
# build.txt (setuptools, the build backend: it goes in first, so feedgen, an sdist, and feedsvc itself
# are built by the locked setuptools with --no-build-isolation and nothing unlocked is fetched).
# A changed lock (or pyproject.toml) makes a new venv from scratch, so the venv is exactly the lock.
# Installing needs plain pip only (the venv's own pip; never upgraded from the index):
INSTALL_LOCKED := pip install -q --require-hashes --no-deps --no-build-isolation
$(STAMP): requirements/build.txt requirements/test.txt pyproject.toml
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/$(INSTALL_LOCKED) -r requirements/build.txt
	$(BIN)/$(INSTALL_LOCKED) -r requirements/test.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $@

# The locks are made with uv (`make lock`): it resolves fast, and universally (one file holds the
# environment markers for every platform and Python >= 3.11), with hashes. Only locking needs it; uv's
# own version is locked in requirements/tools.txt (from requirements/tools.in), in var/tools.
UV_VERSION := 0.13.10
TOOLS := var/tools
UV := $(TOOLS)/bin/uv
UV_COMPILE := $(UV) pip compile --quiet --generate-hashes --universal --python-version 3.11 \
	--custom-compile-command 'make lock'

$(UV): requirements/tools.txt
	$(PYTHON) -m venv --clear $(TOOLS)
	$(TOOLS)/bin/pip install -q --require-hashes --no-deps -r requirements/tools.txt
	$(UV) --version | grep -q '^uv $(UV_VERSION) ' || { echo 'requirements/tools.txt is not uv $(UV_VERSION)' >&2; exit 1; }
	touch $@

# Regenerate every lock from pyproject.toml, keeping the current pins: only what pyproject.toml no
# longer allows (or newly asks for) changes. UPGRADE=1: the newest releases pyproject.toml allows;
# UPGRADE_PACKAGE=watchdog: that package only. bench.txt (the superset) is resolved first and the
# others are constrained to it, so a package has one version in every lock.
LOCK_FLAGS := $(if $(UPGRADE),--upgrade) $(if $(UPGRADE_PACKAGE),--upgrade-package '$(UPGRADE_PACKAGE)')
lock: $(UV)
	@mkdir -p var/lock
	$(PYTHON) -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'], sep='\n')" \
	  > var/lock/build-system.txt
	$(UV_COMPILE) $(LOCK_FLAGS) pyproject.toml var/lock/build-system.txt --extra test --extra bench -o requirements/bench.txt
	$(UV_COMPILE) $(LOCK_FLAGS) pyproject.toml var/lock/build-system.txt --extra test -c requirements/bench.txt \
	  -o requirements/test.txt
	$(UV_COMPILE) $(LOCK_FLAGS) pyproject.toml var/lock/build-system.txt -c requirements/bench.txt \
	  -o requirements/service.txt
	$(UV_COMPILE) $(LOCK_FLAGS) var/lock/build-system.txt -c requirements/bench.txt -o requirements/build.txt
	$(UV_COMPILE) $(LOCK_FLAGS) requirements/tools.in -o requirements/tools.txt
	$(UV_COMPILE) $(LOCK_FLAGS) requirements/compose.in -o requirements/compose.txt
	@wc -l requirements/*.txt

# What the next `make lock UPGRADE=1` would bring, tried before it is committed: a throwaway venv
# (var/upgrade-check/) per leg, each running the suite (`pytest -q`, as `make test`) with
# FEEDSVC_SKIP_LOCK_CHECK=1. Legs: newest (every package at the newest release pyproject.toml allows),
# watchdog-lowest and aiohttp-lowest (that package at the lowest release its range allows, the rest
# as locked). Prints, and writes to var/upgrade-check.md, what moved and each leg's pytest summary.
# ~6 minutes a leg on 2 cores. UPGRADE_CHECK_LEGS=newest for one leg; UPGRADE_CHECK_PYTEST='-q tests/x.py'
# for a subset; UPGRADE_CHECK_INSTALL_ONLY=1 to stop after the installs.
upgrade-check: $(UV)
	$(PYTHON) .ci/upgrade-check --uv $(UV) --python $(PYTHON) \
	  $(if $(UPGRADE_CHECK_LEGS),--legs '$(UPGRADE_CHECK_LEGS)') \
	  $(if $(UPGRADE_CHECK_PYTEST),--pytest-args '$(UPGRADE_CHECK_PYTEST)') \
	  $(if $(UPGRADE_CHECK_INSTALL_ONLY),--install-only)

# feedsvc's modules are byte-compiled before each run: with PYTHONDONTWRITEBYTECODE set (CI, our
# image, many shells) an editable install would compile all of them at every start, ~0.5 s of it
# (pip compiles what it installs; an editable install's sources are not installed).
run: $(STAMP)
	$(BIN)/python -m compileall -q feedsvc
	$(BIN)/feedsvc serve --seeds ./seeds --host 127.0.0.1 --port 8080

test: $(STAMP)
	$(BIN)/python -m compileall -q feedsvc
	$(BIN)/ruff check feedsvc tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) var .pytest_cache

compose-check:
	bash .ci/compose-check

# Benchmarks (never part of `make test`): serving, freshness, profiles, scale, variant flood, search,
# WebSub, Hugo peers -> docs/BENCHMARKS.md, under 25 minutes.
# BENCH_ARGS=--quick for a smoke run; BENCH_ARGS=--sections=flood,search,websub,peers for some sections.
# Bench-only tools (psutil, py-spy, pyinstrument: pyproject's bench extra) come from requirements/bench.txt,
# which pins everything else exactly as test.txt does.
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP) requirements/bench.txt
	$(BIN)/$(INSTALL_LOCKED) -r requirements/bench.txt
	touch $@

bench: $(BENCH_STAMP)
	bash .ci/bench-deps
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Many more fuzz examples than `make test` (in-process parse+render, end-to-end over a real server,
# schemathesis against docs/openapi.yaml). FUZZ_EXAMPLES=20000 make fuzz for a longer run.
fuzz: FUZZ_EXAMPLES ?= 5000
fuzz: $(STAMP)
	FEEDSVC_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FEEDSVC_SCHEMATHESIS_EXAMPLES=200 \
	  $(BIN)/pytest -q -s --timeout=3600 tests/system/test_fuzz.py tests/integration/test_hostile.py tests/system/test_schemathesis.py -k 'not oversized'

# Loopback load with churn against a real `feedsvc serve`: 64 clients for 20 s; prints requests and errors.
load: LOAD_CLIENTS ?= 64
load: LOAD_SECONDS ?= 20
load: $(STAMP)
	FEEDSVC_LOAD_CLIENTS=$(LOAD_CLIENTS) FEEDSVC_LOAD_SECONDS=$(LOAD_SECONDS) \
	  $(BIN)/pytest -q -s --timeout=600 tests/system/test_load.py
